// The activation page of make dev: the link's fragment (#tenant=…&token=…) never reaches a
// server; this script reads it, clears it from the address bar and history, and posts it
// with the new password to /activation, as the product's own page would.
(function () {
  "use strict";
  var params = new URLSearchParams(window.location.hash.slice(1));
  var tenantId = params.get("tenant") || "";
  var token = params.get("token") || "";
  history.replaceState(null, "", window.location.pathname);
  var form = document.getElementById("activate");
  var result = document.getElementById("result");
  function say(text, ok) {
    result.textContent = text;
    result.className = ok ? "ok" : "error";
  }
  if (!tenantId || !token) {
    say("This page needs the link from your welcome e-mail.", false);
    form.hidden = true;
    return;
  }
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var password = document.getElementById("password").value;
    if (password !== document.getElementById("confirm").value) {
      say("The two passwords differ.", false);
      return;
    }
    fetch("/activation", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ tenantId: tenantId, token: token, password: password })
    }).then(function (resp) {
      return resp.json().then(function (body) { return { status: resp.status, body: body }; });
    }).then(function (r) {
      if (r.status === 200) {
        say("Your account is active. You can sign in with your new password.", true);
        form.hidden = true;
      } else {
        // A password outside the policy: the reason, e.g. "must not contain the organisation's name".
        var why = r.body && r.body.errors && r.body.errors[0];
        say(why ? "The password " + why.message + "." : (r.body && r.body.detail) || "Activation failed.", false);
      }
    }).catch(function () {
      say("The server could not be reached; try again.", false);
    });
  });
})();
