/*
 * signsvc-plugin.js: the JS client of signsvc's local signing service
 * (`signsvc serve`), served by the service itself at /signsvc-plugin.js.
 *
 * The same functions as VGCA's vgcaplugin.js, with the same request JSON and the
 * same callback (one string: the JSON reply, Status 0 on success):
 *
 *     vgca_sign_approved(JSON.stringify({FileName: url, FileUploadHandler: up,
 *                                        SessionId: sid, JWTToken: jwt}), callback);
 *     vgca_sign_issued(json, callback);   vgca_sign_appendix(json, callback);
 *     vgca_sign_copy(json, callback);
 *
 * and a Promise form: signsvc.sign("SignApproved", {FileName: [...], ...})
 * resolves with the reply object (it never rejects: a failure is a reply with
 * Status != 0).
 *
 * The service listens on ws://127.0.0.1:8987; another address comes from
 * window.SIGNSVC_URL ("ws://127.0.0.1:18987") or the data-port attribute of this
 * script's tag (<script src=".../signsvc-plugin.js" data-port="18987">).
 * One WebSocket per call: the page sends one message, the service answers once and
 * closes. No PIN, library or local path is ever sent: the service asks the
 * official itself, in its own window.
 */
(function (global) {
  "use strict";

  var script = global.document && global.document.currentScript;
  var port = script && script.getAttribute("data-port");

  function baseUrl() {
    if (typeof global.SIGNSVC_URL === "string" && global.SIGNSVC_URL) {
      return global.SIGNSVC_URL.replace(/\/+$/, "");
    }
    return "ws://127.0.0.1:" + (port && /^[0-9]{1,5}$/.test(port) ? port : "8987");
  }

  function failure(message) {
    return { Status: -1, Message: message };
  }

  function sign(call, request) {
    return new Promise(function (resolve) {
      var settled = false;
      function finish(reply) {
        if (!settled) {
          settled = true;
          resolve(reply);
        }
      }
      var socket;
      try {
        socket = new WebSocket(baseUrl() + "/" + encodeURIComponent(call));
      } catch (error) {
        finish(failure("signsvc: cannot connect: " + error));
        return;
      }
      socket.onopen = function () {
        socket.send(typeof request === "string" ? request : JSON.stringify(request));
      };
      socket.onmessage = function (event) {
        var reply;
        try {
          reply = JSON.parse(event.data);
        } catch (error) {
          reply = failure("signsvc: the reply is not JSON");
        }
        finish(reply);
        socket.close();
      };
      socket.onerror = function () {
        finish(failure("signsvc: the signing service refused the connection or is not running"));
      };
      socket.onclose = function (event) {
        finish(failure("signsvc: the connection closed without a reply (" + event.code + ")"));
      };
    });
  }

  function vgcaStyle(call) {
    return function (json, callback) {
      sign(call, json).then(function (reply) {
        if (typeof callback === "function") {
          callback(JSON.stringify(reply));
        }
      });
    };
  }

  global.signsvc = { sign: sign, baseUrl: baseUrl };
  global.vgca_sign_approved = vgcaStyle("SignApproved");
  global.vgca_sign_issued = vgcaStyle("SignIssued");
  global.vgca_sign_appendix = vgcaStyle("SignAppendix");
  global.vgca_sign_copy = vgcaStyle("SignCopy");
})(window);
