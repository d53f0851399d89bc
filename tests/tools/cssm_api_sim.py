#!/usr/bin/python3
"""CSSM API simulator: a stand-in for Cisco's Smart Licensing REST API in
rumd's connected-mode tests.

In connected mode rumd sends the usage it collected to Cisco itself and
brings the ACKs back (PROTOCOL.md 5.1). Cisco's cloud cannot be reached from
a test bench, so this tool plays it over HTTPS: an OAuth token endpoint, the
Smart Account search, devices/reportusage, devices/authrequest and
accounts/poll, with switches that make it misbehave the ways a real cloud
and its gateways do. The ACK it returns is built by cssm_sim.py (the file
simulator, imported from the same directory), so a connected ACK and an
air-gap ACK for the same reports have the same sections. Python 3 standard
library only, plus the openssl command for make-ca.

Commands
  serve --listen HOST:PORT --cert CERT.pem --key KEY.pem [options]
      Serves HTTPS until SIGTERM or SIGINT (exit status 0). PORT 0 picks a
      free port. When ready it prints, flushed, on stdout:
          control on http://127.0.0.1:N        (only with --control-port)
          listening on https://HOST:PORT
      One line per request on stderr (no tokens, no secrets); --quiet stops them.
      Options:
      --client ID:SECRET        an API client (repeatable; default rumd-test:rumd-secret)
      --token-ttl S             expires_in of issued tokens (default 3600)
      --smart-account ID:DOMAIN:NAME              (repeatable)
      --virtual-account SA_ID:VA_ID:NAME          (repeatable)
                                the accounts accounts/search lists; giving any
                                replaces the defaults (DEFAULT_ACCOUNTS); the
                                first virtual account of a smart account is its
                                default one
      --polls-before-complete K polls answered OK_POLL before COMPLETE (default 2)
      --policy-name NAME, --reporting-days N      the ACK's policy (as cssm_sim ack)
      --duplicate-policy whole|partial            see "Reports already received"
      --reply-shape flat|data   where reportusage/authrequest put poll_id (below)
      --poll-id-type string|number                how poll_id is written (default string)
      --state-file F            keep tokens, reports and polls in F (JSON, written
                                atomically after every change) and load them at start
      --control-port N          plain-HTTP control interface on 127.0.0.1:N (0: any)
      --max-body BYTES          request body limit (default 16 MiB; above it 413)
      --token-path P            default /as/token.oauth2
      --api-base P              default /services/api/smart-accounts-and-licensing/v2
      --fault NAME=VALUE        a fault switch set from the start (repeatable;
                                the names of the control interface below)
  make-ca DIR
      A test CA and a server certificate for 127.0.0.1 and localhost signed by
      it (make_test_ca); prints the paths of ca.pem, cert.pem and key.pem.

Endpoints (all answers are JSON; an error body never holds a traceback)
  POST {token-path}   form grant_type=client_credentials&client_id=..&client_secret=..,
      or the client in HTTP Basic (RFC 6749 2.3.1; not both at once) ->
      {"access_token", "token_type": "Bearer", "expires_in"}. Unknown client or
      wrong secret: 401 {"error": "invalid_client"}; another grant type: 400
      {"error": "unsupported_grant_type"}; a body that is not a form: 400
      {"error": "invalid_request"}.
  Every other endpoint wants "Authorization: Bearer <token>": missing, unknown,
      expired or revoked token: 401 {"error": "invalid_token", "error_description"}
      with WWW-Authenticate: Bearer.
  GET  {api-base}/accounts/search ->
      {"status": "COMPLETE", "message": "", "accounts": [{"account_id": "1000001",
       "account_name": "...", "domain": "...", "virtual_accounts": [
       {"virtual_account_id": "2000001", "name": "Default", "default": true}, ...]}]}
  POST {api-base}/devices/reportusage and {api-base}/devices/authrequest
      want Content-Type: application/json (else 415) and the device headers
      X-CSW-SMART-ACCOUNT-ID and X-CSW-VIRTUAL-ACCOUNT-ID (decimal ids; missing
      or malformed: 400; a smart account not listed: 403; a virtual account not
      in that smart account: 404) and X-CSW-REQUESTING-SYSTEM, a JSON object
      with udi_pid and udi_serial_number (non-empty strings) and optionally
      display_name and host_identifier (strings); missing or malformed: 400.
      The body is {"data": {...}}.
      reportusage data: timestamp (milliseconds, an integer or a decimal
      string), nonce (a string of 1..256 characters), reports: a non-empty array
      of entries {sudi?, hostname?, software_tag_identifier?, trust_requests?:
      [...], usage: [RUM report, ...]}; data.sudi is optional. Every RUM report
      is checked with cssm_sim.check_report (payload a JSON object as a string,
      signature an object, a report id, a UDI). Every UDI present (data.sudi, an
      entry's sudi, each report's UDI) must be the requesting system's: one call
      is for one device. A call with no report and no trust request is refused.
      authrequest data: timestamp, nonce and licenses: [{sudi, hostname?,
      keys: [{entitlement, count}], confirm_code?, remove_code?}] and/or
      trust_requests: [{...}]; every sudi must be the requesting system's.
      Refusals: 400 {"status": "FAILED", "message": "<one line naming the
      field>"}, nothing recorded. Accepted: a poll id, action "acknowledgements"
      (reportusage) or "authorizations" (authrequest):
        --reply-shape flat (default): {"status": "OK_POLL", "message": "",
            "poll_id": "<19 digits>", "action", "timestamp": <ms>, "nonce": <echo>}
        --reply-shape data: {"status": "OK_POLL", "message": "",
            "data": {"poll_id", "action", "timestamp", "nonce"}}
      Poll ids are random integers from 2^60 to 2^63-1: beyond 2^53, so a client
      that reads them as floating point loses digits (keep them as text).
  POST {api-base}/accounts/poll with the same headers and
      {"data": {"timestamp", "nonce", "poll_id" (string or integer), "action"}}:
      the poll must belong to the requesting system and to the same accounts
      (403 otherwise) and name its action (400 otherwise). Unknown poll id: 404
      {"status": "FAILED", "message": "unknown poll_id ...", "message_code":
      "POLL_ID_NOT_FOUND"}. The first K polls of an id answer {"status": "OK_POLL",
      "message": "", "message_code": "", "poll_id", "timestamp", "nonce"}; from
      then on {"status": "COMPLETE", "message": "", "poll_id", "timestamp",
      "nonce", "data": {"acknowledgements": [{"smart_license": "<base64>"}]}}
      (or "authorizations": [...]). COMPLETE is repeated, same bytes, for every
      later poll of that id: a client that lost the answer polls again.

What the answers hold
  acknowledgements: cssm_sim.render_ack for the call's device and the report
  ids the call recorded, in the order sent: smartLicensePolicy (--policy-name,
  --reporting-days), smartLicenseRumAck naming each report id with the UDI,
  smartLicenseAccountInfo (the smart account's name and the virtual account's
  name), smartLicenseTrustCode when an entry carried trust requests, and a
  correlationID derived from the poll id. Signed with cssm_sim's simulator
  key, as the file simulator's ACKs are.
  authorizations: <smartLicense> holding, per license, a signed
  <smartLicenseAuthorization><udi>P:..,S:..</udi><authorizationCode>
  (JSON text naming the entitlements and counts) and, with trust requests,
  cssm_sim's smartLicenseTrustCode section; then a correlationID.

Reports already received
  A report is identified by (udi_pid, udi_serial_number, report id). Every
  arrival of a report in a valid call is counted (stats "reports"), so a test
  can prove that each report was sent once. When a call holds a report
  recorded before, the answer is {"status": "FAILED", "message": "N report(s)
  already received: ..."}, HTTP 200 (same payload) -- the same message with
  "different payload" when the payload differs (a conflict, counted apart).
  With --duplicate-policy whole (default) nothing from that call is recorded,
  not even its new reports; with partial its new reports are recorded and,
  if there is at least one, the call gets a poll id whose ACK names only
  those. A client must treat "already received" as delivered, not as an
  error to retry.

Fault switches (--fault NAME=VALUE at start, POST /control at run time)
  token_401 (bool)        the token endpoint answers 401 invalid_client to everyone
  expire_tokens (bool)    revokes every token issued so far (a one-shot action,
                          never stays set): the next call with an old token gets
                          401 invalid_token, a fresh token works
  token_ttl (int)         expires_in of tokens issued from now on
  rate_limit (int N)      the next N requests in scope: 429 with Retry-After
  retry_after (int S)     the Retry-After seconds of those (default 1)
  fail_500 (int N)        the next N requests in scope: 500
  drop_connection (int N) the next N requests in scope: the connection is
                          closed after the request is read, with no answer
  slow_ms (int)           every answer (control excepted) waits this long
  html_errors (bool)      429 and 500 bodies are an HTML page (as a gateway's)
  duplicate_failed (bool) every valid reportusage is answered FAILED "already
                          received": its reports are counted and recorded as if
                          CSSM had had them before
  polls_before_complete (int)  K, for existing poll ids too
  fault_scope             which requests rate_limit, fail_500 and drop_connection
                          hit: "api" (default: every endpoint but the token's),
                          "token", or "all"
  Order: drop_connection, then rate_limit, then fail_500, each before
  authentication; slow_ms delays every answer, fault answers included.

Control interface (--control-port; plain HTTP on 127.0.0.1, no authentication)
  POST /control {"rate_limit": 2, ...}  -> {"faults": {...}}; an unknown name or
       a wrong type: 400 naming it, nothing changed. "reset_stats": true zeroes
       the counters (not the recorded reports and polls).
  GET  /control -> {"faults": {...}}
  GET  /stats   -> counters: tokens_issued, tokens_refused (token endpoint),
       tokens_rejected (API calls with a missing, unknown, expired or revoked
       token), requests {endpoint: {status: n}} (endpoints token, search,
       reportusage, authrequest, poll, other; status "dropped" for a dropped
       connection, "client-gone" when the client left first),
       reports_received (arrivals), reports_recorded, duplicates, conflicts,
       reports {"P:pid,S:sn": {"<report id>": arrivals}}, polls, polls_ok_poll,
       polls_complete, polls_unknown, faults_applied {rate_limit, fail_500,
       drop_connection, token_401}, tls_handshake_failures, bodies_too_large,
       faults (the current switches)
  GET  /reports -> {"reports": [{"udi_pid", "udi_serial_number", "report_id",
       "received", "recorded", "payload_sha256"}]}; ?payloads=1 adds "payload",
       the text exactly as received
  GET  /polls   -> {"polls": [{"poll_id", "action", "udi_pid", "udi_serial_number",
       "smart_account_id", "virtual_account_id", "report_ids", "polls",
       "complete"}]}

Limits
  Bodies over --max-body: 413 before the body is read; no Content-Length on a
  POST (chunked uploads included): 411. Bodies that are not UTF-8, not JSON,
  nested too deeply or holding a number too long to read: 400 naming the
  problem. An unexpected failure answers 500 with a one-line message and is
  logged; the server keeps serving. Each connection has a 30 s I/O timeout;
  the TLS handshake happens in the connection's own thread, so a client that
  never completes it blocks no one.

Inferred, not verified
  Cisco's sample code (DevNet) shows the token form, the paths, the device
  headers, accounts/search's "status", "accounts[].account_id", "domain",
  "virtual_accounts[].name" and "virtual_account_id", top-level "status",
  "message" and "poll_id" in reportusage and authrequest answers,
  "status"/"message"/"message_code" in poll answers, and a FAILED answer for a
  duplicate upload. Not shown there, and chosen here: "account_name" and
  "default", the status word OK_POLL of an accepted upload, HTTP 200 for
  FAILED "already received", whether one duplicate fails the whole call,
  the 403/404 statuses for unknown accounts, the "authorizations" key and the
  content of an authorization code, the 429/500 bodies, and requiring the
  device headers on accounts/poll (Cisco's sample sends them).

Helpers for tests (import cssm_api_sim)
  make_test_ca(dir) -> (ca.pem, cert.pem, key.pem) paths
  spawn(cert, key, args=(), ...) -> Running: a `serve` subprocess with
      .port, .control_port, .base_url, .token_url, .api_url(name),
      .control(**switches), .stats(), .control_get(path), .stop(), .log()
"""

import argparse
import base64
import hashlib
import http.server
import json
import os
import re
import secrets
import select
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import traceback
import urllib.parse
import urllib.request
import uuid
from xml.sax.saxutils import escape

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cssm_sim  # noqa: E402

TOKEN_PATH = "/as/token.oauth2"
API_BASE = "/services/api/smart-accounts-and-licensing/v2"
DEFAULT_CLIENT = ("rumd-test", "rumd-secret")
DEFAULT_ACCOUNTS = [
    {"account_id": "1000001", "account_name": "Simulated Smart Account", "domain": "example.com",
     "virtual_accounts": [{"virtual_account_id": "2000001", "name": "Default", "default": True},
                          {"virtual_account_id": "2000002", "name": "Lab", "default": False}]},
]
MAX_BODY = 16 << 20
IO_TIMEOUT = 30
MAX_NONCE = 256
POLL_ID_MIN, POLL_ID_MAX = 1 << 60, (1 << 63) - 1

FAULT_TYPES = {
    "token_401": bool, "expire_tokens": bool, "token_ttl": int, "rate_limit": int,
    "retry_after": int, "fail_500": int, "drop_connection": int, "slow_ms": int,
    "html_errors": bool, "duplicate_failed": bool, "polls_before_complete": int,
    "fault_scope": str,
}
FAULT_SCOPES = ("api", "token", "all")


class BadRequest(Exception):
    """A request the simulator refuses: status, one-line message, JSON body."""

    def __init__(self, status, message, body=None, headers=None):
        super().__init__(message)
        self.status = status
        self.body = body if body is not None else {"status": "FAILED", "message": one_line(message)}
        self.headers = headers or {}


def one_line(text):
    return " ".join(str(text).split())


def now_ms():
    return int(time.time() * 1000)


def udi_key(udi):
    return "P:%s,S:%s" % udi


# ---------------------------------------------------------------------------
# Test CA

def make_test_ca(directory, names=()):
    """A throwaway CA and a server certificate for 127.0.0.1 and localhost
    (and the DNS names given) signed by it, made with the openssl command in
    directory. Returns the paths (ca.pem, cert.pem, key.pem); clients verify
    against ca.pem."""
    os.makedirs(directory, exist_ok=True)
    p = {n: os.path.join(directory, n) for n in ("ca.pem", "ca.key", "cert.pem", "key.pem",
                                                 "server.csr", "server.ext")}
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def run(*args):
        r = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("openssl %s failed: %s" % (args[0], r.stderr.strip()))

    run("req", "-x509", *ec, "-keyout", p["ca.key"], "-out", p["ca.pem"], "-days", "30",
        "-subj", "/CN=cssm_api_sim test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", *ec, "-keyout", p["key.pem"], "-out", p["server.csr"], "-subj", "/CN=localhost")
    with open(p["server.ext"], "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectAltName=IP:127.0.0.1,DNS:localhost" +
                "".join(",DNS:" + n for n in names) + "\n"
                "subjectKeyIdentifier=hash\n"
                "authorityKeyIdentifier=keyid,issuer\n")
    run("x509", "-req", "-in", p["server.csr"], "-CA", p["ca.pem"], "-CAkey", p["ca.key"],
        "-set_serial", str(secrets.randbits(63)), "-days", "30", "-extfile", p["server.ext"],
        "-out", p["cert.pem"])
    os.chmod(p["key.pem"], 0o600)
    os.chmod(p["ca.key"], 0o600)
    return p["ca.pem"], p["cert.pem"], p["key.pem"]


# ---------------------------------------------------------------------------
# Request checks

def parse_json(body):
    """The JSON value of a request body, or BadRequest(400) naming the problem."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadRequest(400, "body is not UTF-8 (%s)" % e) from None
    try:
        return json.loads(text)
    except RecursionError:
        raise BadRequest(400, "body is not usable JSON: nested too deeply") from None
    except ValueError as e:
        raise BadRequest(400, "body is not JSON: %s" % e) from None


def want_sudi(obj, where):
    if not isinstance(obj, dict):
        raise BadRequest(400, "%s is not an object with udi_pid and udi_serial_number" % where)
    for k in ("udi_pid", "udi_serial_number"):
        if not isinstance(obj.get(k), str) or not obj[k]:
            raise BadRequest(400, "%s.%s is missing or not a non-empty string" % (where, k))
    return (obj["udi_pid"], obj["udi_serial_number"])


def want_timestamp(data):
    ts = data.get("timestamp")
    if isinstance(ts, str) and ts.isascii() and ts.isdigit() and len(ts) <= 20:
        ts = int(ts)
    if not isinstance(ts, int) or isinstance(ts, bool):
        raise BadRequest(400, "data.timestamp is missing or not an integer (milliseconds)")
    if not 10 ** 12 <= ts < 10 ** 14:
        raise BadRequest(400, "data.timestamp %d is not in milliseconds since the epoch" % ts)
    return ts


def want_nonce(data):
    nonce = data.get("nonce")
    if not isinstance(nonce, str) or not 1 <= len(nonce) <= MAX_NONCE:
        raise BadRequest(400, "data.nonce is missing or not a string of 1..%d characters" % MAX_NONCE)
    return nonce


def want_data(body):
    msg = parse_json(body)
    if not isinstance(msg, dict):
        raise BadRequest(400, "body is not a JSON object")
    data = msg.get("data")
    if not isinstance(data, dict):
        raise BadRequest(400, "body has no \"data\" object")
    return data


def same_udi(udi, system, where):
    if udi != system:
        raise BadRequest(400, "%s is %s but X-CSW-REQUESTING-SYSTEM is %s"
                         % (where, udi_key(udi), udi_key(system)))


def check_reportusage(data, system):
    """[(entry index, [(report id, payload text)])], trust requested (bool)."""
    want_timestamp(data)
    want_nonce(data)
    if "sudi" in data:
        same_udi(want_sudi(data["sudi"], "data.sudi"), system, "data.sudi")
    reports = data.get("reports")
    if not isinstance(reports, list) or not reports:
        raise BadRequest(400, "data.reports is missing or not a non-empty array")
    found, trust, payloads = [], False, {}
    for i, entry in enumerate(reports):
        where = "data.reports[%d]" % i
        if not isinstance(entry, dict):
            raise BadRequest(400, "%s is not an object" % where)
        if "sudi" in entry:
            same_udi(want_sudi(entry["sudi"], where + ".sudi"), system, where + ".sudi")
        for k in ("hostname", "software_tag_identifier"):
            if k in entry and not isinstance(entry[k], str):
                raise BadRequest(400, "%s.%s is not a string" % (where, k))
        tr = entry.get("trust_requests", [])
        if not isinstance(tr, list) or not all(isinstance(t, dict) for t in tr):
            raise BadRequest(400, "%s.trust_requests is not an array of objects" % where)
        trust = trust or bool(tr)
        usage = entry.get("usage")
        if not isinstance(usage, list):
            raise BadRequest(400, "%s.usage is missing or not an array" % where)
        for j, rep in enumerate(usage):
            rwhere = "%s.usage[%d]" % (where, j)
            if not isinstance(rep, dict):
                raise BadRequest(400, "%s is not a RUM report object" % rwhere)
            try:
                rid, udi, payload = cssm_sim.check_report(json.dumps(rep), rwhere)
            except cssm_sim.Refused as e:
                raise BadRequest(400, str(e)) from None
            except RecursionError:
                raise BadRequest(400, "%s: payload is nested too deeply" % rwhere) from None
            same_udi(udi, system, "%s (report %d) UDI" % (rwhere, rid))
            if payloads.setdefault(rid, payload) != payload:
                raise BadRequest(400, "%s: report id %d appears twice in this call with different payloads"
                                 % (rwhere, rid))
            found.append((rid, payload))
    if not found and not trust:
        raise BadRequest(400, "data.reports holds no RUM report and no trust request")
    return found, trust


def check_authrequest(data, system):
    """[(entitlement, count)] per license, trust requested (bool)."""
    want_timestamp(data)
    want_nonce(data)
    licenses = data.get("licenses", [])
    trust = data.get("trust_requests", [])
    if not isinstance(licenses, list):
        raise BadRequest(400, "data.licenses is not an array")
    if not isinstance(trust, list) or not all(isinstance(t, dict) for t in trust):
        raise BadRequest(400, "data.trust_requests is not an array of objects")
    if not licenses and not trust:
        raise BadRequest(400, "data holds neither licenses nor trust_requests")
    out = []
    for i, lic in enumerate(licenses):
        where = "data.licenses[%d]" % i
        if not isinstance(lic, dict):
            raise BadRequest(400, "%s is not an object" % where)
        same_udi(want_sudi(lic.get("sudi"), where + ".sudi"), system, where + ".sudi")
        keys = lic.get("keys", [])
        if not isinstance(keys, list):
            raise BadRequest(400, "%s.keys is not an array" % where)
        ents = []
        for j, key in enumerate(keys):
            kwhere = "%s.keys[%d]" % (where, j)
            if not isinstance(key, dict) or not isinstance(key.get("entitlement"), str) or not key["entitlement"]:
                raise BadRequest(400, "%s.entitlement is missing or not a string" % kwhere)
            count = key.get("count")
            if isinstance(count, str) and count.isascii() and count.isdigit() and len(count) <= 9:
                count = int(count)
            if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                raise BadRequest(400, "%s.count is not a non-negative integer" % kwhere)
            ents.append((key["entitlement"], count))
        for k in ("confirm_code", "remove_code", "hostname"):
            if k in lic and not isinstance(lic[k], str):
                raise BadRequest(400, "%s.%s is not a string" % (where, k))
        if not ents and "remove_code" not in lic and "confirm_code" not in lic:
            raise BadRequest(400, "%s has no keys, confirm_code or remove_code" % where)
        out.append(ents)
    for i, t in enumerate(trust):
        if "sudi" in t:
            where = "data.trust_requests[%d].sudi" % i
            same_udi(want_sudi(t["sudi"], where), system, where)
    return out, bool(trust)


# ---------------------------------------------------------------------------
# Answers for completed polls

def authorization_section(udi, entitlements):
    code = json.dumps({"udi": udi_key(udi),
                       "entitlements": [{"tag": t, "count": n} for t, n in entitlements],
                       "code": cssm_sim.sign("%s/%r" % (udi_key(udi), entitlements))},
                      separators=(",", ":"))
    return cssm_sim.signed_section("smartLicenseAuthorization", "<udi>%s</udi><authorizationCode>%s"
                                   "</authorizationCode>" % (escape(udi_key(udi)), escape(code)))


def ack_xml(poll, sim):
    """The smart_license document of a completed poll (bytes)."""
    udi = (poll["udi_pid"], poll["udi_serial_number"])
    corr = uuid.uuid5(cssm_sim.SIM_NAMESPACE, "api/%s" % poll["poll_id"])
    device = cssm_sim.Device(poll["poll_id"], udi, list(poll["report_ids"]))
    if poll["action"] == "acknowledgements":
        sa, va = sim.account_names(poll["smart_account_id"], poll["virtual_account_id"])
        opts = argparse.Namespace(policy_name=sim.opts.policy_name, reporting_days=sim.opts.reporting_days,
                                  trust_code=poll["trust"], smart_account=sa, virtual_account=va)
        return cssm_sim.render_ack(device, opts, corr)
    body = [authorization_section(udi, [tuple(e) for e in ents]) for ents in poll["licenses"]]
    if poll["trust"]:
        body.append(cssm_sim.trust_section(device))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<smartLicense>\n%s<correlationID>%s</correlationID>\n'
            "</smartLicense>\n" % ("".join(body), corr)).encode("utf-8")


# ---------------------------------------------------------------------------
# State

class Sim:
    """Everything the simulator knows; every method that touches state holds lock."""

    def __init__(self, opts):
        self.opts = opts
        self.lock = threading.Lock()
        self.clients = dict(opts.client or [DEFAULT_CLIENT])
        self.accounts = opts.accounts
        self.tokens = {}   # token -> {"client", "expires" (epoch seconds)}
        self.reports = {}  # (pid, sn, rid) -> {"sha", "payload", "received", "recorded"}
        self.polls = {}    # poll id (str) -> dict, see new_poll
        self.faults = {"token_401": False, "token_ttl": opts.token_ttl, "rate_limit": 0,
                       "retry_after": 1, "fail_500": 0, "drop_connection": 0, "slow_ms": 0,
                       "html_errors": False, "duplicate_failed": False,
                       "polls_before_complete": opts.polls_before_complete, "fault_scope": "api"}
        self.reset_stats()
        if opts.state_file and os.path.exists(opts.state_file):
            self.load(opts.state_file)

    def reset_stats(self):
        self.stats = {"tokens_issued": 0, "tokens_refused": 0, "requests": {}, "reports_received": 0,
                      "reports_recorded": 0, "duplicates": 0, "conflicts": 0, "polls": 0,
                      "polls_ok_poll": 0, "polls_complete": 0, "polls_unknown": 0,
                      "faults_applied": {"rate_limit": 0, "fail_500": 0, "drop_connection": 0,
                                         "token_401": 0},
                      "tokens_rejected": 0, "tls_handshake_failures": 0, "bodies_too_large": 0}

    # -- persistence
    def load(self, path):
        with open(path, "r", encoding="utf-8") as f:
            state = json.load(f)
        if not isinstance(state, dict) or state.get("version") != 1:
            raise ValueError("not a state file of this simulator (version 1)")
        self.tokens = state["tokens"]
        for r in state["reports"]:
            self.reports[(r["udi_pid"], r["udi_serial_number"], r["report_id"])] = {
                "sha": r["payload_sha256"], "payload": r["payload"], "received": r["received"],
                "recorded": r["recorded"]}
        self.polls = state["polls"]

    def save(self):
        """Called with lock held, after every change."""
        if not self.opts.state_file:
            return
        state = {"version": 1, "tokens": self.tokens, "polls": self.polls,
                 "reports": [{"udi_pid": k[0], "udi_serial_number": k[1], "report_id": k[2],
                              "payload_sha256": v["sha"], "payload": v["payload"],
                              "received": v["received"], "recorded": v["recorded"]}
                             for k, v in self.reports.items()]}
        cssm_sim.write_atomically(self.opts.state_file, json.dumps(state).encode("utf-8"))

    # -- counters
    def count_request(self, endpoint, status):
        with self.lock:
            per = self.stats["requests"].setdefault(endpoint, {})
            per[str(status)] = per.get(str(status), 0) + 1

    def count(self, name, n=1):
        with self.lock:
            self.stats[name] += n

    def snapshot(self):
        with self.lock:
            out = json.loads(json.dumps(self.stats))
            per = {}
            for (pid, sn, rid), rec in self.reports.items():
                per.setdefault(udi_key((pid, sn)), {})[str(rid)] = rec["received"]
            out["reports"] = per
            out["faults"] = dict(self.faults)
            return out

    # -- faults
    def set_faults(self, changes):
        """Validates all, then applies all; BadRequest naming the first bad one."""
        if not isinstance(changes, dict):
            raise BadRequest(400, "control body is not a JSON object")
        for name, value in changes.items():
            if name == "reset_stats":
                if not isinstance(value, bool):
                    raise BadRequest(400, "reset_stats must be true or false")
                continue
            kind = FAULT_TYPES.get(name)
            if kind is None:
                raise BadRequest(400, "unknown switch %r (known: %s)" % (name, ", ".join(sorted(FAULT_TYPES))))
            if kind is bool and not isinstance(value, bool):
                raise BadRequest(400, "%s must be true or false" % name)
            if kind is int and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                raise BadRequest(400, "%s must be a non-negative integer" % name)
            if name == "fault_scope" and value not in FAULT_SCOPES:
                raise BadRequest(400, "fault_scope must be one of %s" % ", ".join(FAULT_SCOPES))
            if name in ("token_ttl",) and value < 1:
                raise BadRequest(400, "token_ttl must be at least 1")
        with self.lock:
            for name, value in changes.items():
                if name == "reset_stats":
                    if value:
                        self.reset_stats()
                elif name == "expire_tokens":
                    if value:
                        self.tokens.clear()
                        self.save()
                else:
                    self.faults[name] = value
            return dict(self.faults)

    def take_fault(self, endpoint):
        """The counted fault this request meets, if any: 'drop_connection',
        'rate_limit' or 'fail_500' (the counter is decremented)."""
        with self.lock:
            scope = self.faults["fault_scope"]
            hit = scope == "all" or (scope == "api") == (endpoint != "token")
            if not hit:
                return None
            for name in ("drop_connection", "rate_limit", "fail_500"):
                if self.faults[name] > 0:
                    self.faults[name] -= 1
                    self.stats["faults_applied"][name] += 1
                    return name
            return None

    # -- tokens
    def issue_token(self, client_id, secret):
        with self.lock:
            if self.faults["token_401"]:
                self.stats["faults_applied"]["token_401"] += 1
                self.stats["tokens_refused"] += 1
                raise BadRequest(401, "token_401 switch", {"error": "invalid_client",
                                                            "error_description": "client authentication failed"})
            if client_id not in self.clients or not secrets.compare_digest(
                    self.clients[client_id].encode(), secret.encode()):
                self.stats["tokens_refused"] += 1
                raise BadRequest(401, "bad credentials", {"error": "invalid_client",
                                                          "error_description": "client authentication failed"})
            token = secrets.token_urlsafe(32)
            ttl = self.faults["token_ttl"]
            now = time.time()
            self.tokens = {t: v for t, v in self.tokens.items() if v["expires"] > now}
            self.tokens[token] = {"client": client_id, "expires": now + ttl}
            self.stats["tokens_issued"] += 1
            self.save()
            return {"access_token": token, "token_type": "Bearer", "expires_in": ttl}

    def check_token(self, header):
        def refuse(error, why):
            raise BadRequest(401, why, {"error": error, "error_description": why},
                             {"WWW-Authenticate": 'Bearer error="%s"' % error if error == "invalid_token"
                              else "Bearer"})
        if not header:
            refuse("invalid_request", "no Authorization header (Bearer token expected)")
        m = re.fullmatch(r"Bearer ([A-Za-z0-9._~+/=-]+)", header.strip())
        if not m:
            refuse("invalid_request", "Authorization is not \"Bearer <token>\"")
        with self.lock:
            rec = self.tokens.get(m.group(1))
            if rec is None or rec["expires"] <= time.time():
                self.stats["tokens_rejected"] += 1
                refuse("invalid_token", "the access token is unknown, expired or revoked")

    # -- accounts
    def find_accounts(self, sa_id, va_id):
        for sa in self.accounts:
            if sa["account_id"] == sa_id:
                for va in sa["virtual_accounts"]:
                    if va["virtual_account_id"] == va_id:
                        return sa, va
                raise BadRequest(404, "virtual account %s is not in smart account %s" % (va_id, sa_id))
        raise BadRequest(403, "smart account %s is not accessible to this client" % sa_id)

    def account_names(self, sa_id, va_id):
        sa, va = self.find_accounts(sa_id, va_id)
        return sa["account_name"], va["name"]

    # -- polls
    def new_poll(self, action, system, sa_id, va_id, report_ids=(), licenses=(), trust=False):
        """Called with lock held."""
        while True:
            poll_id = str(POLL_ID_MIN + secrets.randbelow(POLL_ID_MAX - POLL_ID_MIN + 1))
            if poll_id not in self.polls:
                break
        self.polls[poll_id] = {"poll_id": poll_id, "action": action, "udi_pid": system[0],
                               "udi_serial_number": system[1], "smart_account_id": sa_id,
                               "virtual_account_id": va_id, "report_ids": list(report_ids),
                               "licenses": [list(map(list, ents)) for ents in licenses],
                               "trust": trust, "polls": 0, "complete": False}
        return poll_id

    # -- device calls
    def report_usage(self, found, trust, system, sa_id, va_id):
        """(poll id, None) or (None, FAILED message). found: [(report id,
        payload)] in the order sent, a report id possibly repeated with the
        same payload (counted at each arrival, recorded once)."""
        with self.lock:
            dup, conflict, new = [], [], []
            for rid, payload in found:
                key = system + (rid,)
                sha = hashlib.sha256(payload.encode("utf-8")).hexdigest()
                self.stats["reports_received"] += 1
                rec = self.reports.get(key)
                if rec is None:
                    rec = self.reports[key] = {"sha": sha, "payload": payload, "received": 0, "recorded": False}
                rec["received"] += 1
                if rec["recorded"]:
                    (dup if rec["sha"] == sha else conflict).append(rid)
                elif rid not in new:
                    rec["sha"], rec["payload"] = sha, payload
                    new.append(rid)
            forced = self.faults["duplicate_failed"] and bool(found)
            if forced:
                record = new
            elif dup or conflict:
                self.stats["duplicates"] += len(dup)
                self.stats["conflicts"] += len(conflict)
                record = new if self.opts.duplicate_policy == "partial" else []
            else:
                record = new
            for rid in record:
                self.reports[system + (rid,)]["recorded"] = True
            self.stats["reports_recorded"] += len(record)
            poll_id = None
            if not forced and (record or (trust and not dup and not conflict)):
                poll_id = self.new_poll("acknowledgements", system, sa_id, va_id, record, trust=trust)
            self.save()
        if forced:
            return None, "%d report(s) already received for %s" % (len(found), udi_key(system))
        if poll_id is not None:
            return poll_id, None
        parts = []
        if dup:
            parts.append("%d report(s) already received for %s: %s"
                         % (len(dup), udi_key(system), ", ".join(map(str, dup[:20]))))
        if conflict:
            parts.append("%d report(s) already received with a different payload for %s: %s"
                         % (len(conflict), udi_key(system), ", ".join(map(str, conflict[:20]))))
        return None, "; ".join(parts)

    def auth_request(self, licenses, trust, system, sa_id, va_id):
        with self.lock:
            poll_id = self.new_poll("authorizations", system, sa_id, va_id, licenses=licenses, trust=trust)
            self.save()
        return poll_id

    def poll(self, poll_id, action, system, sa_id, va_id):
        """(status, smart_license bytes or None)."""
        with self.lock:
            self.stats["polls"] += 1
            rec = self.polls.get(poll_id)
            if rec is None:
                self.stats["polls_unknown"] += 1
                raise BadRequest(404, "unknown poll_id %s" % poll_id,
                                 {"status": "FAILED", "message": "unknown poll_id %s" % poll_id,
                                  "message_code": "POLL_ID_NOT_FOUND"})
            if (rec["udi_pid"], rec["udi_serial_number"]) != system:
                raise BadRequest(403, "poll_id %s belongs to another device (X-CSW-REQUESTING-SYSTEM is %s)"
                                 % (poll_id, udi_key(system)))
            if (rec["smart_account_id"], rec["virtual_account_id"]) != (sa_id, va_id):
                raise BadRequest(403, "poll_id %s belongs to other accounts than SA %s / VA %s"
                                 % (poll_id, sa_id, va_id))
            if rec["action"] != action:
                raise BadRequest(400, "poll_id %s is for action %s, not %s" % (poll_id, rec["action"], action))
            rec["polls"] += 1
            if not rec["complete"] and rec["polls"] > self.faults["polls_before_complete"]:
                rec["complete"] = True
            self.save()
            if not rec["complete"]:
                self.stats["polls_ok_poll"] += 1
                return "OK_POLL", None
            self.stats["polls_complete"] += 1
            return "COMPLETE", ack_xml(rec, self)


# ---------------------------------------------------------------------------
# HTTP

class JsonHandler(http.server.BaseHTTPRequestHandler):
    """Shared plumbing: bounded bodies, JSON answers, one log line per request."""

    protocol_version = "HTTP/1.1"
    server_version = "cssm_api_sim"
    sys_version = ""
    timeout = IO_TIMEOUT
    # An answer leaves in one write (send_json flushes once) on a socket
    # without Nagle's algorithm. Written as a head and then a body, the body
    # waited for the client's delayed ACK of the head: 40 ms per answer on
    # Linux, which capped a kept-alive connection at about 12 calls a second.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        pass

    def log_line(self, status, note=""):
        if not self.server.sim.opts.quiet:
            print("cssm_api_sim: %s %s %s %s%s" % (self.client_address[0], self.command,
                                                  self.path.split("?", 1)[0][:200], status,
                                                  (" " + note) if note else ""),
                  file=sys.stderr, flush=True)

    def read_body(self):
        """The request body; BadRequest 411/413/400 without reading it."""
        te = self.headers.get("Transfer-Encoding")
        cl = self.headers.get("Content-Length")
        if te is not None:
            self.close_connection = True
            self.drain = 1 << 20
            raise BadRequest(411, "Transfer-Encoding is not supported; send a Content-Length")
        if cl is None:
            if self.command in ("POST", "PUT", "PATCH"):
                self.close_connection = True
                raise BadRequest(411, "Content-Length required")
            return b""
        if not re.fullmatch(r"[0-9]{1,19}", cl.strip()):
            self.close_connection = True
            raise BadRequest(400, "Content-Length %r is not a number" % cl[:40])
        n = int(cl)
        limit = self.server.sim.opts.max_body
        if n > limit:
            self.server.sim.count("bodies_too_large")
            self.close_connection = True
            self.drain = min(n, 64 << 20)
            raise BadRequest(413, "body of %d bytes is over the limit of %d bytes" % (n, limit))
        data = self.rfile.read(n)
        if len(data) != n:
            self.close_connection = True
            raise BadRequest(400, "body ends after %d of %d bytes" % (len(data), n))
        return data

    def send_json(self, status, obj, headers=None, raw=None, content_type="application/json"):
        data = raw if raw is not None else json.dumps(obj, separators=(",", ":")).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def discard_unread(self):
        """After an early answer (411, 413), reads what the client is still sending
        (briefly, bounded) so that closing does not reset the connection
        before it has read the answer."""
        left = getattr(self, "drain", 0)
        deadline = time.monotonic() + 2
        try:
            while left > 0 and time.monotonic() < deadline:
                self.connection.settimeout(max(0.05, deadline - time.monotonic()))
                chunk = self.rfile.read1(min(left, 1 << 16))
                if not chunk:
                    break
                left -= len(chunk)
        except (OSError, ValueError):
            pass


class ApiHandler(JsonHandler):
    """The simulated CSSM (token endpoint and API) over TLS."""

    def handle(self):
        try:
            self.connection.do_handshake()
        except (OSError, ValueError) as e:
            self.server.sim.count("tls_handshake_failures")
            if not self.server.sim.opts.quiet:
                print("cssm_api_sim: %s TLS handshake failed: %s" % (self.client_address[0], one_line(e)),
                      file=sys.stderr, flush=True)
            return
        try:
            super().handle()
        except (ConnectionError, TimeoutError, ssl.SSLError):
            pass

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def route(self):
        path = urllib.parse.urlsplit(self.path).path
        opts = self.server.sim.opts
        if path == opts.token_path:
            return "token", "POST"
        base = opts.api_base.rstrip("/")
        for name, method in (("accounts/search", "GET"), ("devices/reportusage", "POST"),
                             ("devices/authrequest", "POST"), ("accounts/poll", "POST")):
            if path == base + "/" + name:
                return name.split("/")[1], method
        return "other", None

    def dispatch(self):
        sim = self.server.sim
        endpoint, method = self.route()
        status, note = 500, ""
        self.delayed, self.drain = False, 0
        try:
            try:
                body = self.read_body()
                if endpoint == "other":
                    raise BadRequest(404, "no such endpoint %s" % urllib.parse.urlsplit(self.path).path[:200])
                if self.command != method:
                    raise BadRequest(405, "%s wants %s, not %s" % (self.path.split("?")[0], method, self.command),
                                     headers={"Allow": method})
                fault = sim.take_fault(endpoint)
                self.delay()
                if fault == "drop_connection":
                    status, note = "dropped", "(drop_connection)"
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                elif fault == "rate_limit":
                    status, note = 429, "(rate_limit)"
                    self.fault_answer(429, "rate limit exceeded", {"Retry-After": str(sim.faults["retry_after"])})
                elif fault == "fail_500":
                    status, note = 500, "(fail_500)"
                    self.fault_answer(500, "internal server error")
                else:
                    answer, headers = getattr(self, "ep_" + endpoint)(body)
                    status = 200
                    self.send_json(200, answer, headers)
            except BadRequest as e:
                self.delay()
                status, note = e.status, one_line(e)[:200]
                self.send_json(e.status, e.body, e.headers)
                if e.status in (411, 413):
                    self.discard_unread()
        except (ConnectionError, TimeoutError, ssl.SSLError):
            self.close_connection = True
            status = "client-gone"
        except Exception as e:  # never a traceback to the client; keep serving
            traceback.print_exc(file=sys.stderr)
            status, note = 500, "unexpected: %s" % one_line(e)[:200]
            self.close_connection = True
            try:
                self.send_json(500, {"status": "FAILED", "message": "simulator error: %s" % one_line(e)[:300]})
            except OSError:
                pass
        finally:
            sim.count_request(endpoint, status)
            self.log_line(status, note)

    def delay(self):
        """slow_ms, once per request."""
        if self.delayed:
            return
        self.delayed = True
        ms = self.server.sim.faults["slow_ms"]
        if ms:
            time.sleep(ms / 1000.0)

    def fault_answer(self, status, text, headers=None):
        sim = self.server.sim
        if sim.faults["html_errors"]:
            raw = ("<html><head><title>%d %s</title></head><body><h1>%d %s</h1></body></html>\n"
                   % (status, text, status, text)).encode()
            self.send_json(status, None, headers, raw=raw, content_type="text/html")
        else:
            self.send_json(status, {"status": "FAILED", "message": text,
                                    "message_code": "RATE_LIMITED" if status == 429 else "INTERNAL_ERROR"},
                           headers)

    # -- endpoints: each returns (answer object, extra headers) or raises BadRequest

    def ep_token(self, body):
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()

        def invalid(why, error="invalid_request", status=400):
            raise BadRequest(status, why, {"error": error, "error_description": why})
        if ctype != "application/x-www-form-urlencoded":
            invalid("Content-Type must be application/x-www-form-urlencoded")
        try:
            pairs = urllib.parse.parse_qsl(body.decode("ascii"), keep_blank_values=True,
                                           strict_parsing=bool(body), max_num_fields=20)
        except (UnicodeDecodeError, ValueError) as e:
            invalid("body is not a form: %s" % one_line(e))
        form = {}
        for k, v in pairs:
            if k in form:
                invalid("parameter %s given twice" % k)
            form[k] = v
        if form.get("grant_type") != "client_credentials":
            invalid("grant_type %r is not supported (client_credentials)" % form.get("grant_type"),
                    "unsupported_grant_type")
        auth = self.headers.get("Authorization")
        if auth:
            m = re.fullmatch(r"Basic ([A-Za-z0-9+/=]+)", auth.strip())
            if not m:
                invalid("Authorization is not HTTP Basic", "invalid_client", 401)
            if "client_id" in form and "client_secret" in form:
                invalid("client credentials given both in Authorization and in the body")
            try:
                user, _, password = base64.b64decode(m.group(1), validate=True).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                invalid("Authorization Basic value is not base64 of id:secret", "invalid_client", 401)
            client_id, secret = urllib.parse.unquote_plus(user), urllib.parse.unquote_plus(password)
        else:
            client_id, secret = form.get("client_id"), form.get("client_secret")
            if not client_id or secret is None:
                invalid("client_id and client_secret are required", "invalid_client", 401)
        return self.server.sim.issue_token(client_id, secret), {"Pragma": "no-cache"}

    def device_headers(self):
        """(system udi, smart account id, virtual account id) from the X-CSW headers."""
        ids = []
        for name in ("X-CSW-SMART-ACCOUNT-ID", "X-CSW-VIRTUAL-ACCOUNT-ID"):
            values = self.headers.get_all(name) or []
            if not values:
                raise BadRequest(400, "header %s is missing" % name)
            if len(values) > 1:
                raise BadRequest(400, "header %s is given %d times" % (name, len(values)))
            if not re.fullmatch(r"[0-9]{1,20}", values[0].strip()):
                raise BadRequest(400, "header %s %r is not a decimal account id" % (name, values[0][:40]))
            ids.append(values[0].strip())
        raw = self.headers.get_all("X-CSW-REQUESTING-SYSTEM") or []
        if len(raw) != 1:
            raise BadRequest(400, "header X-CSW-REQUESTING-SYSTEM is %s"
                             % ("missing" if not raw else "given %d times" % len(raw)))
        try:
            system = json.loads(raw[0])
        except (ValueError, RecursionError) as e:
            raise BadRequest(400, "header X-CSW-REQUESTING-SYSTEM is not JSON: %s" % e) from None
        udi = want_sudi(system, "header X-CSW-REQUESTING-SYSTEM")
        for k in ("display_name", "host_identifier"):
            if k in system and not isinstance(system[k], str):
                raise BadRequest(400, "header X-CSW-REQUESTING-SYSTEM %s is not a string" % k)
        self.server.sim.find_accounts(ids[0], ids[1])
        return udi, ids[0], ids[1]

    def want_json_type(self):
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise BadRequest(415, "Content-Type must be application/json, not %r" % ctype[:60])

    def ep_search(self, body):
        self.server.sim.check_token(self.headers.get("Authorization"))
        return {"status": "COMPLETE", "message": "", "accounts": self.server.sim.accounts}, None

    def accepted(self, poll_id, action, nonce):
        sim = self.server.sim
        pid = int(poll_id) if sim.opts.poll_id_type == "number" else poll_id
        fields = {"poll_id": pid, "action": action, "timestamp": now_ms(), "nonce": nonce}
        if sim.opts.reply_shape == "data":
            return {"status": "OK_POLL", "message": "", "data": fields}
        return dict({"status": "OK_POLL", "message": ""}, **fields)

    def ep_reportusage(self, body):
        sim = self.server.sim
        sim.check_token(self.headers.get("Authorization"))
        self.want_json_type()
        system, sa_id, va_id = self.device_headers()
        data = want_data(body)
        found, trust = check_reportusage(data, system)
        poll_id, failed = sim.report_usage(found, trust, system, sa_id, va_id)
        if failed:
            return {"status": "FAILED", "message": failed, "message_code": "ALREADY_RECEIVED"}, None
        return self.accepted(poll_id, "acknowledgements", data["nonce"]), None

    def ep_authrequest(self, body):
        sim = self.server.sim
        sim.check_token(self.headers.get("Authorization"))
        self.want_json_type()
        system, sa_id, va_id = self.device_headers()
        data = want_data(body)
        licenses, trust = check_authrequest(data, system)
        poll_id = sim.auth_request(licenses, trust, system, sa_id, va_id)
        return self.accepted(poll_id, "authorizations", data["nonce"]), None

    def ep_poll(self, body):
        sim = self.server.sim
        sim.check_token(self.headers.get("Authorization"))
        self.want_json_type()
        system, sa_id, va_id = self.device_headers()
        data = want_data(body)
        want_timestamp(data)
        nonce = want_nonce(data)
        poll_id = data.get("poll_id")
        if isinstance(poll_id, int) and not isinstance(poll_id, bool) and poll_id >= 0:
            poll_id = str(poll_id)
        if not isinstance(poll_id, str) or not re.fullmatch(r"[0-9]{1,20}", poll_id):
            raise BadRequest(400, "data.poll_id is missing or not a decimal integer (string or number)")
        action = data.get("action")
        if action not in ("acknowledgements", "authorizations"):
            raise BadRequest(400, "data.action %r is not acknowledgements or authorizations" % (action,))
        status, doc = sim.poll(poll_id, action, system, sa_id, va_id)
        answer = {"status": status, "message": "", "poll_id": poll_id, "timestamp": now_ms(), "nonce": nonce}
        if doc is None:
            answer["message_code"] = ""
        else:
            answer["data"] = {action: [{"smart_license": base64.b64encode(doc).decode("ascii")}]}
        return answer, None


class ControlHandler(JsonHandler):
    """Plain HTTP on loopback: fault switches and counters for the tests."""

    def do_GET(self):
        self.dispatch()

    do_POST = do_GET

    def dispatch(self):
        sim = self.server.sim
        url = urllib.parse.urlsplit(self.path)
        status = 200
        try:
            try:
                body = self.read_body()
                if url.path == "/control" and self.command == "POST":
                    changes = parse_json(body)
                    answer = {"faults": sim.set_faults(changes)}
                elif url.path == "/control" and self.command == "GET":
                    with sim.lock:
                        answer = {"faults": dict(sim.faults)}
                elif url.path == "/stats" and self.command == "GET":
                    answer = sim.snapshot()
                elif url.path == "/reports" and self.command == "GET":
                    full = urllib.parse.parse_qs(url.query).get("payloads") == ["1"]
                    with sim.lock:
                        answer = {"reports": [dict({"udi_pid": k[0], "udi_serial_number": k[1], "report_id": k[2],
                                                    "received": v["received"], "recorded": v["recorded"],
                                                    "payload_sha256": v["sha"]},
                                                   **({"payload": v["payload"]} if full else {}))
                                              for k, v in sim.reports.items()]}
                elif url.path == "/polls" and self.command == "GET":
                    with sim.lock:
                        answer = {"polls": [{k: v for k, v in p.items() if k not in ("licenses", "trust")}
                                            for p in sim.polls.values()]}
                else:
                    raise BadRequest(404, "no such control endpoint %s %s" % (self.command, url.path[:100]))
                self.send_json(200, answer)
            except BadRequest as e:
                status = e.status
                self.send_json(e.status, e.body, e.headers)
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception as e:
            traceback.print_exc(file=sys.stderr)
            status = 500
            self.close_connection = True
            try:
                self.send_json(500, {"status": "FAILED", "message": "simulator error: %s" % one_line(e)[:300]})
            except OSError:
                pass
        finally:
            self.log_line(status, "(control)")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address, handler, sim, tls=None):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.sim = sim
        super().__init__(address, handler)
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if not isinstance(exc, (ConnectionError, TimeoutError, ssl.SSLError)):
            traceback.print_exc(file=sys.stderr)


# ---------------------------------------------------------------------------
# Command line

def host_port(text):
    m = re.fullmatch(r"\[([0-9a-fA-F:.]+)\]:(\d{1,5})|([^:\[\]]+):(\d{1,5})", text)
    if not m:
        raise argparse.ArgumentTypeError("expected HOST:PORT or [IPv6]:PORT, got %r" % text)
    host, port = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
    if int(port) > 65535:
        raise argparse.ArgumentTypeError("port %s out of range" % port)
    return host, int(port)


def client_arg(text):
    cid, sep, secret = text.partition(":")
    if not sep or not cid:
        raise argparse.ArgumentTypeError("expected ID:SECRET, got %r" % text)
    return cid, secret


def non_negative(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def fault_arg(text):
    name, sep, value = text.partition("=")
    kind = FAULT_TYPES.get(name)
    if not sep or kind is None:
        raise argparse.ArgumentTypeError("expected NAME=VALUE with NAME one of %s" % ", ".join(sorted(FAULT_TYPES)))
    if kind is bool:
        if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise argparse.ArgumentTypeError("%s wants true or false" % name)
        return name, value.lower() in ("true", "1", "yes")
    if kind is int:
        return name, non_negative(value)
    return name, value


def build_accounts(smart, virtual):
    """The accounts/search list from --smart-account / --virtual-account."""
    if not smart and not virtual:
        return json.loads(json.dumps(DEFAULT_ACCOUNTS))
    out, by_id = [], {}
    for text in smart or []:
        parts = text.split(":", 2)
        if len(parts) != 3 or not re.fullmatch(r"[0-9]{1,20}", parts[0]) or not parts[2]:
            raise ValueError("--smart-account wants ID:DOMAIN:NAME with a decimal ID, got %r" % text)
        sa = {"account_id": parts[0], "account_name": parts[2], "domain": parts[1], "virtual_accounts": []}
        out.append(sa)
        by_id[parts[0]] = sa
    for text in virtual or []:
        parts = text.split(":", 2)
        if len(parts) != 3 or not all(re.fullmatch(r"[0-9]{1,20}", p) for p in parts[:2]) or not parts[2]:
            raise ValueError("--virtual-account wants SA_ID:VA_ID:NAME with decimal ids, got %r" % text)
        if parts[0] not in by_id:
            raise ValueError("--virtual-account %s: no --smart-account %s" % (text, parts[0]))
        vas = by_id[parts[0]]["virtual_accounts"]
        vas.append({"virtual_account_id": parts[1], "name": parts[2], "default": not vas})
    return out


def parser():
    p = argparse.ArgumentParser(prog="cssm_api_sim.py",
                                description="CSSM REST API simulator for rumd's connected-mode tests.")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve the simulated API over HTTPS")
    s.add_argument("--listen", type=host_port, required=True, metavar="HOST:PORT")
    s.add_argument("--cert", required=True)
    s.add_argument("--key", required=True)
    s.add_argument("--client", type=client_arg, action="append", metavar="ID:SECRET")
    s.add_argument("--token-ttl", type=int, default=3600, metavar="SECONDS")
    s.add_argument("--smart-account", action="append", metavar="ID:DOMAIN:NAME")
    s.add_argument("--virtual-account", action="append", metavar="SA_ID:VA_ID:NAME")
    s.add_argument("--polls-before-complete", type=non_negative, default=2, metavar="K")
    s.add_argument("--policy-name", default="CSSM Simulator Policy")
    s.add_argument("--reporting-days", type=cssm_sim.days, default=90)
    s.add_argument("--duplicate-policy", choices=("whole", "partial"), default="whole")
    s.add_argument("--reply-shape", choices=("flat", "data"), default="flat")
    s.add_argument("--poll-id-type", choices=("string", "number"), default="string")
    s.add_argument("--state-file")
    s.add_argument("--control-port", type=non_negative)
    s.add_argument("--max-body", type=non_negative, default=MAX_BODY, metavar="BYTES")
    s.add_argument("--token-path", default=TOKEN_PATH)
    s.add_argument("--api-base", default=API_BASE)
    s.add_argument("--fault", type=fault_arg, action="append", default=[], metavar="NAME=VALUE")
    s.add_argument("--quiet", action="store_true")
    c = sub.add_parser("make-ca", help="write a test CA and a server certificate for 127.0.0.1/localhost")
    c.add_argument("dir")
    return p


def cmd_serve(args):
    if args.token_ttl < 1:
        print("cssm_api_sim: --token-ttl must be at least 1", file=sys.stderr)
        return 2
    try:
        args.accounts = build_accounts(args.smart_account, args.virtual_account)
    except ValueError as e:
        print("cssm_api_sim: %s" % e, file=sys.stderr)
        return 2
    try:
        sim = Sim(args)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        print("cssm_api_sim: cannot load state file %s: %s" % (args.state_file, one_line(e)), file=sys.stderr)
        return 2
    try:
        sim.set_faults(dict(args.fault))
    except BadRequest as e:
        print("cssm_api_sim: --fault: %s" % e, file=sys.stderr)
        return 2
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        tls.load_cert_chain(args.cert, args.key)
    except (OSError, ssl.SSLError) as e:
        print("cssm_api_sim: cannot load %s / %s: %s" % (args.cert, args.key, e), file=sys.stderr)
        return 2
    servers = []
    if args.control_port is not None:
        control = Server(("127.0.0.1", args.control_port), ControlHandler, sim)
        servers.append(control)
        print("control on http://127.0.0.1:%d" % control.server_address[1], flush=True)
    api = Server(args.listen, ApiHandler, sim, tls)
    servers.append(api)
    host = args.listen[0]
    print("listening on https://%s:%d" % ("[%s]" % host if ":" in host else host, api.server_address[1]),
          flush=True)
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for t in threads:
        t.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    for s in servers:
        s.shutdown()
        s.server_close()
    return 0


def cmd_make_ca(args):
    for path in make_test_ca(args.dir):
        print(path)
    return 0


def main(argv=None):
    args = parser().parse_args(argv)
    return {"serve": cmd_serve, "make-ca": cmd_make_ca}[args.command](args)


# ---------------------------------------------------------------------------
# Running the simulator from a test

class Running:
    """A `serve` subprocess started by spawn()."""

    def __init__(self, proc, port, control_port, log_path, args):
        self.proc, self.port, self.control_port, self.log_path = proc, port, control_port, log_path
        self.args = args
        self.base_url = "https://127.0.0.1:%d" % port
        self.token_url = self.base_url + _arg_value(args, "--token-path", TOKEN_PATH)
        self.api_base = _arg_value(args, "--api-base", API_BASE).rstrip("/")

    def api_url(self, name):
        """name: accounts/search, devices/reportusage, devices/authrequest, accounts/poll."""
        return self.base_url + self.api_base + "/" + name

    def control_request(self, method, path, body=None):
        if self.control_port is None:
            raise RuntimeError("the simulator was started without --control-port")
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.control_port, path), data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def control(self, **switches):
        return self.control_request("POST", "/control", switches)["faults"]

    def control_get(self, path):
        return self.control_request("GET", path)

    def stats(self):
        return self.control_get("/stats")

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        return self.proc.returncode

    def log(self):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""


def _arg_value(args, name, default):
    args = list(args)
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return default


def spawn(cert, key, args=(), log_path=None, control=True, timeout=15, python=None):
    """Starts `serve` on 127.0.0.1 (a free port) and waits for its ready line.
    args: further serve options. stderr goes to log_path (else discarded)."""
    cmd = [python or sys.executable, os.path.abspath(__file__), "serve", "--listen", "127.0.0.1:0",
           "--cert", cert, "--key", key]
    if control:
        cmd += ["--control-port", "0"]
    cmd += list(args)
    err = open(log_path, "ab") if log_path else subprocess.DEVNULL
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
    finally:
        if log_path:
            err.close()
    port = control_port = None
    deadline = time.monotonic() + timeout
    fd, buf = proc.stdout.fileno(), b""
    while port is None:
        if b"\n" not in buf:
            left = deadline - time.monotonic()
            chunk = b""
            if left > 0 and select.select([fd], [], [], left)[0]:
                chunk = os.read(fd, 4096)
            if not chunk:
                proc.kill()
                proc.wait()
                log = ""
                if log_path and os.path.exists(log_path):
                    with open(log_path, errors="replace") as f:
                        log = f.read()[-3000:]
                raise RuntimeError("cssm_api_sim did not start (status %s): %s" % (proc.returncode, log))
            buf += chunk
            continue
        raw, buf = buf.split(b"\n", 1)
        line = raw.decode("utf-8", "replace")
        m = re.match(r"control on http://127\.0\.0\.1:(\d+)", line)
        if m:
            control_port = int(m.group(1))
        m = re.match(r"listening on https://[^ ]*:(\d+)", line)
        if m:
            port = int(m.group(1))
    return Running(proc, port, control_port, log_path, cmd)


if __name__ == "__main__":
    sys.exit(main())
