"""Support: team queues, tickets with their threads and attachments, macros, agents and live chat sessions."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.deconstruct import deconstructible

from engipay.storage import PrivateFileSystemStorage


@deconstructible
class PrivateSupportStorage(PrivateFileSystemStorage):
    """Attachments on disk under SUPPORT_PRIVATE_ROOT, outside every public root, with no base URL: the files
    are only ever streamed by the permission-checked download view."""

    root_setting = "SUPPORT_PRIVATE_ROOT"
    what = "Support attachments"


private_storage = PrivateSupportStorage()


class Priority(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


PRIORITY_RANK = {Priority.LOW: 0, Priority.MEDIUM: 1, Priority.HIGH: 2, Priority.URGENT: 3}


class Team(models.Model):
    """A queue of agents that answers some ticket categories, with its first-response SLA per priority."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=80)
    # Ticket categories routed to this team; a category no team lists goes to the "general" team.
    categories = models.JSONField(default=list, blank=True)
    sla_urgent_minutes = models.PositiveIntegerField(default=30)
    sla_high_minutes = models.PositiveIntegerField(default=120)
    sla_medium_minutes = models.PositiveIntegerField(default=480)
    sla_low_minutes = models.PositiveIntegerField(default=1440)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def sla_minutes(self, priority: str) -> int:
        return getattr(self, f"sla_{priority}_minutes")


class AgentProfile(models.Model):
    """A support agent's presence and load: online agents take chats up to ``capacity`` at a time."""

    class Status(models.TextChoices):
        ONLINE = "online", "Online"
        AWAY = "away", "Away"
        OFFLINE = "offline", "Offline"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_profile")
    display_name = models.CharField(max_length=80, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OFFLINE)
    capacity = models.PositiveSmallIntegerField(default=3)
    teams = models.ManyToManyField(Team, blank=True, related_name="agents")
    # Open console sockets of this agent; the last one closing hands their chats back to the queue.
    console_connections = models.PositiveIntegerField(default=0)
    status_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["user_id"]

    def __str__(self) -> str:
        return self.display_name or str(self.user)


class Ticket(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PENDING = "pending", "Pending (waiting on user)"
        RESOLVED = "resolved", "Resolved"
        CLOSED = "closed", "Closed"

    class Category(models.TextChoices):
        TECHNICAL = "technical", "Technical"
        ACCOUNT = "account", "Account"
        WALLET = "wallet", "Wallet"
        TRANSACTION = "transaction", "Transaction"
        PAYMENTS = "payments", "Payments"
        SWAPS = "swaps", "Swaps"
        DEFI = "defi", "DeFi"
        SECURITY = "security", "Security"
        FUNDS_AT_RISK = "funds_at_risk", "Funds at risk"
        KYC = "kyc", "Identity verification"
        BILLING = "billing", "Billing"
        FEEDBACK = "feedback", "Feedback"
        OTHER = "other", "Other"

    id = models.CharField(primary_key=True, max_length=10, editable=False)  # "TKT-" + 6 random digits
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="support_tickets")
    subject = models.CharField(max_length=200)
    description = models.TextField()
    category = models.CharField(max_length=20, choices=Category.choices)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.MEDIUM)
    requested_priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.MEDIUM)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="tickets")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tickets",
    )
    user_agent = models.CharField(max_length=500, blank=True)
    wallet_address = models.CharField(max_length=100, blank=True)
    # What the user was told at creation ("4 hours"); kept so the answer does not change on every read.
    estimated_response_time = models.CharField(max_length=40, blank=True)
    first_response_due_at = models.DateTimeField()
    first_response_at = models.DateTimeField(null=True, blank=True)
    last_user_message_at = models.DateTimeField(null=True, blank=True)
    last_agent_message_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="support_ticket_user_recent"),
            models.Index(fields=["team", "status", "created_at"], name="support_ticket_queue"),
            models.Index(fields=["assignee", "status"], name="support_ticket_assignee"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.subject}"


class TicketMessage(models.Model):
    class Role(models.TextChoices):
        USER = "user", "User"
        AGENT = "agent", "Agent"
        SYSTEM = "system", "System"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    role = models.CharField(max_length=10, choices=Role.choices)
    body = models.TextField()
    # Internal notes are for agents only: never in the API, never notified to the user.
    internal = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="support_msg_thread")]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.role} {self.created_at:%Y-%m-%d %H:%M}"


class Attachment(models.Model):
    """A validated, re-encoded upload on private storage; streamed only to the ticket's owner and agents."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    message = models.ForeignKey(
        TicketMessage, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments"
    )
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    file = models.FileField(storage=private_storage, upload_to="tickets/%Y/%m/")
    original_name = models.CharField(max_length=200, blank=True)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.original_name or f"attachment {self.pk}"


class Macro(models.Model):
    """A canned reply; optionally moves the ticket to a status when used."""

    name = models.CharField(max_length=80, unique=True)
    body = models.TextField(help_text="Sent to the user as written. {name} is replaced by the user's name.")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="macros")
    set_status = models.CharField(max_length=10, choices=Ticket.Status.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ChatSession(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting for an agent"
        ACTIVE = "active", "With an agent"
        ENDED = "ended", "Ended"

    id = models.CharField(primary_key=True, max_length=40, editable=False)  # "chat_" + random token
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="support_chats")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="agent_chats"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    initial_message = models.TextField()
    user_context = models.JSONField(default=dict, blank=True)
    # Queue order: the longest-waiting session is served first; a requeued session keeps its place.
    waiting_since = models.DateTimeField()
    assigned_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ticket = models.OneToOneField(Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="chat_session")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [
            models.Index(fields=["status", "waiting_since"], name="support_chat_queue"),
            models.Index(fields=["agent", "status"], name="support_chat_agent"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="active") | Q(agent__isnull=False), name="support_chat_active_has_agent"
            ),
        ]

    def __str__(self) -> str:
        return self.id


class ChatMessage(models.Model):
    class Role(models.TextChoices):
        USER = "user", "User"
        AGENT = "agent", "Agent"
        SYSTEM = "system", "System"

    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="messages")
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    role = models.CharField(max_length=10, choices=Role.choices)
    body = models.TextField()
    # When the other side read it (read receipts).
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["session", "created_at"], name="support_chatmsg_thread")]

    def __str__(self) -> str:
        return f"{self.session_id} {self.role}"
