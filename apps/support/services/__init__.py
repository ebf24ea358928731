"""Support services, one module per area: ``tickets`` (tickets, replies, routing, SLA), ``attachments``
(validation, re-encoding, private storage) and ``chat`` (live chat sessions, queue, agent assignment)."""
