// The test e-office pages' script (TEST ONLY): builds a VGCA request from the page's
// query string, sends it to the signing service the way the page is told to, and writes
// what the page observed into #result (JSON) with data-done="1". In a frame it also
// posts the result to the parent page, which writes it into its own #result.
//
// Query parameters: svc (service port), svchost (host name the page uses for the
// service, default 127.0.0.1), mode ("plugin": signsvc-plugin.js and vgca_sign_*;
// "raw": a WebSocket opened by the page itself, one message, one reply; "fetch": a GET
// of `target`), call (SignApproved, SignIssued, ...), files (URLs joined with "|"),
// upload, session, jwt, docnumber, issued.
"use strict";

const params = new URLSearchParams(location.search);
const svcHost = params.get("svchost") || "127.0.0.1";
const svcPort = params.get("svc") || "8987";
const call = params.get("call") || "SignApproved";

const PLUGIN_FUNCTIONS = {
  SignApproved: "vgca_sign_approved",
  SignIssued: "vgca_sign_issued",
  SignAppendix: "vgca_sign_appendix",
  SignCopy: "vgca_sign_copy",
};

// Chromium's names for the Local Network Access policy features, old and new.
const LNA_FEATURES = ["local-network-access", "local-network", "loopback-network"];

function finish(result) {
  result.page = location.origin;
  const policy = document.permissionsPolicy || document.featurePolicy;
  if (policy) {
    result.policy = Object.fromEntries(
      LNA_FEATURES.filter((f) => policy.features().includes(f))
        .map((f) => [f, policy.allowsFeature(f)]));
  }
  const out = document.getElementById("result");
  out.textContent = JSON.stringify(result);
  out.setAttribute("data-done", "1");
  if (window.parent !== window) {
    window.parent.postMessage({signsvcResult: result}, "*");
  }
}

function parsed(text) {
  try { return JSON.parse(text); } catch (e) { return null; }
}

function vgcaRequest(fileNames) {
  const files = fileNames || (params.get("files") || "").split("|").filter(Boolean);
  const request = {
    FileName: files.length === 1 ? files[0] : files,
    FileUploadHandler: params.get("upload") || "",
  };
  const optional = {session: "SessionId", jwt: "JWTToken", docnumber: "DocNumber",
                    issued: "IssuedDate"};
  for (const [param, key] of Object.entries(optional)) {
    if (params.has(param)) request[key] = params.get(param);
  }
  return request;
}

function viaPlugin(request) {
  window.SIGNSVC_URL = `ws://${svcHost}:${svcPort}`;
  const script = document.createElement("script");
  script.src = `http://127.0.0.1:${svcPort}/signsvc-plugin.js`;
  script.dataset.port = svcPort;
  script.onerror = () => finish({mode: "plugin", loaded: false});
  script.onload = () => {
    const name = PLUGIN_FUNCTIONS[call];
    if (typeof window[name] !== "function") {
      finish({mode: "plugin", loaded: true, missing: name});
      return;
    }
    window[name](JSON.stringify(request), (reply) => {
      finish({mode: "plugin", loaded: true, reply: reply, parsed: parsed(reply)});
    });
  };
  document.head.appendChild(script);
}

function viaRawSocket(request) {
  const result = {mode: "raw", opened: false, error: false, reply: null, parsed: null};
  let ws;
  try {
    ws = new WebSocket(`ws://${svcHost}:${svcPort}/${call}`);
  } catch (e) {
    result.thrown = `${e.name}: ${e.message}`;
    finish(result);
    return;
  }
  ws.onopen = () => { result.opened = true; ws.send(JSON.stringify(request)); };
  ws.onmessage = (event) => { result.reply = event.data; result.parsed = parsed(event.data); };
  ws.onerror = () => { result.error = true; };
  ws.onclose = (event) => {
    result.closeCode = event.code;
    result.closeReason = event.reason;
    result.wasClean = event.wasClean;
    finish(result);
  };
}

async function viaFetch(target) {
  try {
    const response = await fetch(target, {cache: "no-store"});
    finish({mode: "fetch", ok: response.ok, status: response.status,
            body: await response.text()});
  } catch (e) {
    finish({mode: "fetch", ok: false, error: `${e.name}: ${e.message}`});
  }
}

function run(fileNames) {
  const mode = params.get("mode") || "plugin";
  if (mode === "fetch") {
    viaFetch(params.get("target"));
  } else if (mode === "raw") {
    viaRawSocket(vgcaRequest(fileNames));
  } else {
    viaPlugin(vgcaRequest(fileNames));
  }
}
