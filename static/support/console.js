// The support agents' live chat console (admin page /admin/support/console/). Plain JavaScript, no build step.
//
// One console socket (ws/support/agent/) carries the agent's presence, the queue and their assigned chats; each
// opened chat has its own socket (api/support/chat/<id>). Both authenticate with a first {"type": "auth"} message,
// so the access token never appears in a URL. User text is only ever written with textContent.
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("console-config").textContent);
  var token = config.token;
  var wsBase = (location.protocol === "https:" ? "wss://" : "ws://") + location.host;
  var csrf = (document.querySelector("#support-console input[name=csrfmiddlewaretoken]") || {}).value || "";

  var ui = {
    connection: document.getElementById("console-connection"),
    status: document.getElementById("agent-status"),
    capacity: document.getElementById("agent-capacity"),
    capacitySave: document.getElementById("capacity-save"),
    load: document.getElementById("agent-load"),
    error: document.getElementById("console-error"),
    queue: document.getElementById("queue-list"),
    queueCount: document.getElementById("queue-count"),
    chats: document.getElementById("chat-list"),
    chatCount: document.getElementById("chat-count"),
    panes: document.getElementById("chat-panes"),
  };

  var consoleSocket = null;
  var consoleBackoff = 500;
  var wantedStatus = null; // what the agent last chose, restored after a reconnect
  var panes = {}; // session_id -> pane

  // --- small helpers -----------------------------------------------------------------------------------------

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function button(label, className, onClick) {
    var node = el("button", "button " + (className || ""), label);
    node.type = "button";
    node.addEventListener("click", onClick);
    return node;
  }

  function when(iso) {
    if (!iso) return "";
    var date = new Date(iso);
    return isNaN(date) ? String(iso) : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function waited(iso) {
    if (!iso) return "";
    var minutes = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 60000));
    return minutes < 1 ? "just now" : minutes + " min";
  }

  function describe(value) {
    if (value === null || value === undefined || value === "") return "—";
    if (value === true) return "yes";
    if (value === false) return "no";
    if (typeof value === "object") {
      return Object.keys(value).map(function (key) { return key + ": " + describe(value[key]); }).join(", ");
    }
    return String(value);
  }

  function showError(message) {
    ui.error.textContent = message || "";
    if (message) setTimeout(function () { if (ui.error.textContent === message) ui.error.textContent = ""; }, 8000);
  }

  function refreshToken() {
    return fetch(config.tokenUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf },
    }).then(function (response) {
      if (!response.ok) throw new Error("token " + response.status);
      return response.json();
    }).then(function (data) {
      token = data.token;
      return token;
    });
  }

  function openSocket(path, handlers) {
    var socket = new WebSocket(wsBase + path);
    socket.addEventListener("open", function () {
      socket.send(JSON.stringify({ type: "auth", token: token }));
    });
    socket.addEventListener("message", function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      handlers.message(data);
    });
    socket.addEventListener("close", function (event) { handlers.close(event); });
    return socket;
  }

  function send(socket, payload) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(payload));
      return true;
    }
    showError("Not connected: the message was not sent. Reconnecting…");
    return false;
  }

  // --- the console socket ------------------------------------------------------------------------------------

  function setConnection(state, text) {
    ui.connection.dataset.state = state;
    ui.connection.textContent = text;
    var connected = state === "connected";
    ui.status.disabled = !connected;
    ui.capacity.disabled = !connected;
    ui.capacitySave.disabled = !connected;
  }

  function connectConsole() {
    setConnection("connecting", "Connecting…");
    consoleSocket = openSocket(config.consoleSocket, {
      message: onConsoleMessage,
      close: function (event) {
        consoleSocket = null;
        var delay = consoleBackoff + Math.random() * 250;
        consoleBackoff = Math.min(consoleBackoff * 2, 30000);
        setConnection("disconnected", "Disconnected — reconnecting in " + Math.round(delay / 1000) + " s");
        var ready = event.code === 4401 ? refreshToken().catch(function () {}) : Promise.resolve();
        setTimeout(function () { ready.then(connectConsole); }, delay);
      },
    });
  }

  function onConsoleMessage(data) {
    if (data.type === "authenticated") {
      consoleBackoff = 500;
      setConnection("connected", "Connected");
      if (wantedStatus) send(consoleSocket, { type: "set_status", status: wantedStatus });
    } else if (data.type === "console") {
      setConnection("connected", "Connected");
      renderConsole(data);
    } else if (data.type === "error") {
      showError((data.error && data.error.message) || "Something went wrong.");
    }
  }

  function renderConsole(data) {
    var agent = data.agent || {};
    if (agent.status) ui.status.value = agent.status;
    if (document.activeElement !== ui.capacity && agent.capacity !== undefined) ui.capacity.value = agent.capacity;
    ui.load.textContent = (agent.active_chats || 0) + " / " + (agent.capacity || 0) + " chats";
    renderList(ui.queue, ui.queueCount, data.queue || [], "Nobody is waiting.", queueItem);
    renderList(ui.chats, ui.chatCount, data.chats || [], "No chats assigned to you.", chatItem);
    var assigned = {};
    (data.chats || []).forEach(function (summary) {
      assigned[summary.session_id] = true;
      if (panes[summary.session_id]) panes[summary.session_id].summary = summary;
    });
    Object.keys(panes).forEach(function (id) {
      if (!assigned[id] && !panes[id].ended) markPane(panes[id], "This chat left your list (ended or handed back to the queue).");
    });
  }

  function renderList(list, counter, items, emptyText, render) {
    counter.textContent = String(items.length);
    list.replaceChildren();
    if (!items.length) list.appendChild(el("li", "empty", emptyText));
    items.forEach(function (summary) { list.appendChild(render(summary)); });
  }

  function summaryHead(summary) {
    var item = el("li", "session");
    item.dataset.session = summary.session_id;
    var head = el("div", "session-head");
    head.appendChild(el("strong", "user-name", (summary.user && summary.user.name) || "User"));
    var waitedText = summary.status === "queued"
      ? " · #" + (summary.queue_position || "?") + " · waiting " + waited(summary.waiting_since)
      : " · since " + when(summary.assigned_at || summary.waiting_since);
    head.appendChild(el("span", "session-meta", waitedText));
    item.appendChild(head);
    item.appendChild(el("p", "initial-message", summary.initial_message || ""));
    return item;
  }

  function queueItem(summary) {
    var item = summaryHead(summary);
    item.appendChild(contextBlock(summary));
    item.appendChild(button("Accept", "accept", function () {
      send(consoleSocket, { type: "accept", session_id: summary.session_id });
    }));
    return item;
  }

  function chatItem(summary) {
    var item = summaryHead(summary);
    item.appendChild(contextBlock(summary));
    var pane = panes[summary.session_id];
    var label = pane && !pane.ended ? "Show chat" : "Open chat";
    item.appendChild(button(label, "open-chat", function () { openPane(summary); }));
    return item;
  }

  function contextBlock(summary) {
    var context = summary.user_context || {};
    var block = el("dl", "user-context");
    var shown = { current_page: "Current page", wallet_connected: "Wallet connected", last_transaction: "Last transaction" };
    Object.keys(shown).forEach(function (key) {
      block.appendChild(el("dt", null, shown[key]));
      block.appendChild(el("dd", "context-" + key.replace(/_/g, "-"), describe(context[key])));
    });
    Object.keys(context).forEach(function (key) {
      if (shown[key]) return;
      block.appendChild(el("dt", null, key.replace(/_/g, " ")));
      block.appendChild(el("dd", null, describe(context[key])));
    });
    block.appendChild(el("dt", null, "Recent tickets"));
    var tickets = el("dd", "recent-tickets");
    var recent = summary.recent_tickets || [];
    if (!recent.length) tickets.textContent = "none";
    recent.forEach(function (ticket, index) {
      if (index) tickets.appendChild(document.createTextNode(" · "));
      var link = el("a", "ticket-link", ticket.ticket_id + " " + (ticket.subject || "") + " (" + ticket.status + ")");
      link.href = config.ticketUrl.replace("TICKET_ID", encodeURIComponent(ticket.ticket_id));
      link.target = "_blank";
      link.rel = "noopener";
      tickets.appendChild(link);
    });
    block.appendChild(tickets);
    return block;
  }

  ui.status.addEventListener("change", function () {
    wantedStatus = ui.status.value;
    send(consoleSocket, { type: "set_status", status: wantedStatus });
  });

  ui.capacitySave.addEventListener("click", function () {
    var capacity = parseInt(ui.capacity.value, 10);
    if (!(capacity >= 1)) {
      showError("Capacity is a whole number of chats, at least 1.");
      return;
    }
    send(consoleSocket, { type: "set_capacity", capacity: capacity });
  });

  // --- chat panes --------------------------------------------------------------------------------------------

  function openPane(summary) {
    var existing = panes[summary.session_id];
    if (existing && !existing.ended) {
      existing.root.scrollIntoView({ block: "nearest" });
      existing.input.focus();
      return;
    }
    if (existing) existing.root.remove();
    var pane = buildPane(summary);
    panes[summary.session_id] = pane;
    ui.panes.prepend(pane.root);
    connectPane(pane);
  }

  function buildPane(summary) {
    var pane = { id: summary.session_id, summary: summary, ended: false, backoff: 500, seen: {}, lastUserId: null };
    var root = el("article", "chat-pane");
    root.dataset.session = summary.session_id;
    var header = el("header", "chat-pane-head");
    header.appendChild(el("strong", "user-name", (summary.user && summary.user.name) || "User"));
    pane.state = el("span", "pane-state", "connecting…");
    header.appendChild(pane.state);
    pane.endButton = button("End chat", "end-chat", function () { endChat(pane); });
    pane.ticketButton = button("Convert to ticket", "convert-ticket", function () { convertToTicket(pane); });
    header.appendChild(pane.endButton);
    header.appendChild(pane.ticketButton);
    header.appendChild(button("Close", "close-pane", function () { closePane(pane); }));
    root.appendChild(header);
    root.appendChild(contextBlock(summary));
    pane.messages = el("ol", "chat-messages");
    root.appendChild(pane.messages);
    pane.typing = el("div", "typing", "The user is typing…");
    pane.typing.hidden = true;
    root.appendChild(pane.typing);
    pane.notice = el("div", "pane-notice");
    root.appendChild(pane.notice);
    var form = el("form", "chat-form");
    pane.input = el("textarea", "chat-input");
    pane.input.rows = 2;
    pane.input.placeholder = "Write a reply… (Enter sends, Shift+Enter for a new line)";
    pane.sendButton = el("button", "button default send", "Send");
    pane.sendButton.type = "submit";
    form.appendChild(pane.input);
    form.appendChild(pane.sendButton);
    root.appendChild(form);
    form.addEventListener("submit", function (event) { event.preventDefault(); sendMessage(pane); });
    pane.input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); sendMessage(pane); }
    });
    pane.input.addEventListener("input", function () { typing(pane); });
    pane.root = root;
    return pane;
  }

  function connectPane(pane) {
    pane.socket = openSocket(config.chatSocket + encodeURIComponent(pane.id), {
      message: function (data) { onChatMessage(pane, data); },
      close: function (event) {
        pane.socket = null;
        if (pane.ended || pane.closed) return;
        if (event.code === 4403 || event.code === 4404) {
          markPane(pane, "This chat is not yours any more.");
          return;
        }
        var delay = pane.backoff + Math.random() * 250;
        pane.backoff = Math.min(pane.backoff * 2, 30000);
        pane.state.textContent = "reconnecting…";
        var ready = event.code === 4401 ? refreshToken().catch(function () {}) : Promise.resolve();
        setTimeout(function () { ready.then(function () { if (!pane.closed && !pane.ended) connectPane(pane); }); }, delay);
      },
    });
  }

  function onChatMessage(pane, data) {
    switch (data.type) {
      case "authenticated":
        pane.backoff = 500;
        pane.state.textContent = "connected";
        break;
      case "history":
        pane.messages.replaceChildren();
        pane.seen = {};
        (data.messages || []).forEach(function (message) { addMessage(pane, message); });
        pane.state.textContent = "connected";
        markRead(pane);
        break;
      case "message":
        addMessage(pane, data.message);
        if (data.message && data.message.role === "user") pane.typing.hidden = true;
        markRead(pane);
        break;
      case "typing":
        if (data.role === "user") pane.typing.hidden = !data.is_typing;
        break;
      case "read":
        if (data.role === "user") showRead(pane, data.up_to);
        break;
      case "ended":
        markPane(pane, "The chat has ended" + (data.by ? " (by the " + describe(data.by.role || data.by) + ")." : "."));
        break;
      case "requeued":
        markPane(pane, "The chat went back to the queue.");
        break;
      case "assigned":
        pane.notice.textContent = "";
        break;
      case "error":
        pane.notice.textContent = (data.error && data.error.message) || "Something went wrong.";
        break;
    }
  }

  function addMessage(pane, message) {
    if (!message || pane.seen[message.id]) return;
    pane.seen[message.id] = true;
    var item = el("li", "chat-message role-" + (message.role || "system"));
    item.dataset.id = message.id;
    var sender = message.sender && typeof message.sender === "object" ? message.sender.name : message.sender;
    var meta = el("div", "meta", (sender || message.role) + " · " + when(message.created_at));
    item.appendChild(meta);
    item.appendChild(el("div", "body", message.body));
    if (message.role === "agent") {
      item.appendChild(el("div", "receipt", message.read_at ? "Read" : "Sent"));
    }
    if (message.role === "user") pane.lastUserId = message.id;
    pane.messages.appendChild(item);
    pane.messages.scrollTop = pane.messages.scrollHeight;
  }

  function showRead(pane, upTo) {
    pane.messages.querySelectorAll("li.role-agent").forEach(function (item) {
      if (Number(item.dataset.id) <= Number(upTo)) item.querySelector(".receipt").textContent = "Read";
    });
  }

  function markRead(pane) {
    if (pane.lastUserId === null || pane.lastUserId === pane.readUpTo || document.visibilityState !== "visible") return;
    if (pane.socket && pane.socket.readyState === WebSocket.OPEN) {
      pane.readUpTo = pane.lastUserId;
      pane.socket.send(JSON.stringify({ type: "read", up_to: pane.lastUserId }));
    }
  }

  document.addEventListener("visibilitychange", function () {
    Object.keys(panes).forEach(function (id) { markRead(panes[id]); });
  });

  function typing(pane) {
    var now = Date.now();
    if (!pane.typingSent || now - pane.typingSent > 2500) {
      pane.typingSent = now;
      if (pane.socket && pane.socket.readyState === WebSocket.OPEN) {
        pane.socket.send(JSON.stringify({ type: "typing", is_typing: true }));
      }
    }
    clearTimeout(pane.typingTimer);
    pane.typingTimer = setTimeout(function () { stopTyping(pane); }, 3000);
  }

  function stopTyping(pane) {
    clearTimeout(pane.typingTimer);
    if (pane.typingSent && pane.socket && pane.socket.readyState === WebSocket.OPEN) {
      pane.socket.send(JSON.stringify({ type: "typing", is_typing: false }));
    }
    pane.typingSent = 0;
  }

  function sendMessage(pane) {
    var body = pane.input.value.trim();
    if (!body || pane.ended) return;
    if (send(pane.socket, { type: "message", body: body })) {
      pane.input.value = "";
      stopTyping(pane);
    }
  }

  function endChat(pane) {
    if (!window.confirm("End this chat? The user is told it has ended.")) return;
    if (!send(pane.socket, { type: "end" })) send(consoleSocket, { type: "end", session_id: pane.id });
  }

  function convertToTicket(pane) {
    // Through the admin (session cookie + CSRF): the chat's agent may convert it; the service checks that.
    pane.ticketButton.disabled = true;
    fetch(config.convertUrl.replace("SESSION_ID", encodeURIComponent(pane.id)), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, Accept: "application/json" },
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) throw new Error((data.error && data.error.message) || "The ticket was not created.");
        pane.notice.replaceChildren(document.createTextNode("Ticket created: "));
        var link = el("a", "ticket-link", data.ticket_id);
        link.href = data.url;
        link.target = "_blank";
        link.rel = "noopener";
        pane.notice.appendChild(link);
      });
    }).catch(function (error) {
      pane.ticketButton.disabled = false;
      pane.notice.textContent = error.message;
    });
  }

  function markPane(pane, text) {
    pane.ended = true;
    pane.state.textContent = "ended";
    pane.notice.textContent = text;
    pane.typing.hidden = true;
    pane.input.disabled = true;
    pane.sendButton.disabled = true;
    pane.endButton.disabled = true;
    pane.root.classList.add("ended");
    if (pane.socket) pane.socket.close(1000);
  }

  function closePane(pane) {
    pane.closed = true;
    if (pane.socket) pane.socket.close(1000);
    pane.root.remove();
    delete panes[pane.id];
  }

  connectConsole();
})();
