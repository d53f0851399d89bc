#!/usr/bin/python3
"""CSSM simulator: a stand-in for Cisco's cloud in rumd's air-gap tests.

CSSM cannot be reached from a test bench, so this tool plays its "upload usage,
download ACK" step (PROTOCOL.md 2.2 and 2.3) and builds the archives the tests
feed to rumd. Python 3 standard library only.

Commands
  ack UD_SA_FILE -o OUT_DIR [--reporting-days N] [--trust-code] [--policy-name NAME]
      [--smart-account NAME] [--virtual-account NAME]
      Validates an export as CSSM would and writes ACK_UD_SA_<ts>.tar.gz into
      OUT_DIR. A refused export: one line on stderr naming the file and entry,
      exit status 2, nothing written.
  make-export --out FILE|DIR (--devices N --reports-per-device M | --usage FILE...)
      [--smart-account NAME] [--virtual-account NAME]
      A valid UD_SA_<ts>.tar.gz, from synthetic devices or from real usage files
      (for example `rum-agent save-usage all FILE`).
  make-hostile KIND --out FILE [--shape ack|export|xml] [--level inner|outer]
      Hostile archives for import tests; KIND is one of HOSTILE_KINDS.

What `ack` verifies, and on what evidence
  From PROTOCOL 2.1 / 2.2 (marked [V] there):
  - the outer tar.gz holds exactly manifest.mf and one UD_VA_<ts>.tar.gz; the
    inner tar.gz holds only dev_<digits>_<ts>.txt files; <ts> is
    %y%b%d_%H_%M_%S_<ms> (months in English, whatever the locale);
  - manifest.mf: Manifest-Version 1.0, Created-By {"uuid": ...}, Smart-Account,
    Smart-Account-ID, a blank line, Name: /UD_VA_<ts>.tar.gz naming the inner
    file, Specification-VA, Specification-VA-ID;
  - each dev file is a usage file: XML root smartLicense, at most one
    smartLicenseSystemInfo whose <data> is a JSON object, one or more RUMReport
    elements, each a JSON object with payload (a string holding a JSON object),
    signature (an object) and, optionally, header (PROTOCOL 1.4: absent in some
    exports);
  - report id: meta.report_id (format A) or, with "version":"2.0",
    asset_identification.report_id (format B);
  - UDI: asset_identification.instance.sudi (else the report signature's sudi,
    PROTOCOL 1.4), the same for every report of a file, equal to the report
    signature's sudi and to smartLicenseSystemInfo's sudi when those are present.
  Inferred, stricter than anything Cisco documents (so that rumd's exports are
  held to the layout PROTOCOL gives):
  - the UD_SA file name, the UD_VA name and every dev name carry the same <ts>;
  - names are exact: no "./" prefix, no directory entries;
  - manifest fields are exactly those listed, Manifest-Version first, Name first
    in its section; continuation lines (a leading space) are joined as in a JAR
    manifest; Created-By's uuid must parse as a UUID; Specification-VA non-empty;
  - a dev file may hold other smartLicense* elements (kept opaque, like the
    unknown signed sections of 2.3); any other element is refused;
  - device ids are unique, a UDI appears in one dev file only, and a report id
    seen twice in a file must carry the same payload (it is acknowledged once).

Reading safely
  Nothing is extracted to disk. A small tar reader of our own (not tarfile: it
  reads pax and GNU long-name headers of any announced size into memory) walks
  the gzip streams in memory, with caps checked while streaming: MAX_ENTRIES
  headers in all, MAX_ENTRY_SIZE per entry (checked against the header before
  any data is read), MAX_TOTAL bytes inflated in all (counted as zlib produces
  them, so a gzip bomb is refused after at most MAX_TOTAL bytes, a chunk at a
  time). Symbolic and hard links, device files, FIFOs, directories, absolute
  paths and ".." components are refused. Truncated gzip streams, bad CRCs and
  data after the end of a stream are refused. The inner archive is read twice:
  first for structure (names, types, sizes, counts), and only then for content,
  so nothing is parsed before the whole archive has passed the structural checks.
  XML is parsed with expat directly (xml.parsers.expat feeding an ElementTree
  TreeBuilder): any DOCTYPE, entity declaration or external entity reference
  raises from its handler, parameter entities are never parsed, and only UTF-8
  documents are accepted. (xml.dom.minidom, and ElementTree's own XMLParser,
  expand internal entities and are not safe for hostile input.)

What the ACK holds (PROTOCOL 2.3 gives the layout [V]; the details are inferred)
  ACK_UD_SA_<ts>.tar.gz > ACK_UD_VA_<ts>.tar.gz > ACK_dev_<id>_<ts>.txt, one per
  device, each <smartLicense> with, in order:
  - <smartLicensePolicy><policyCode> name, version, ackRequired and the
    subscription/perpetual/enforced/export/generic blocks, every
    firstTimeReport/onGoingReporting/reportOnMACD set to --reporting-days;
  - <smartLicenseRumAck><data> CDATA JSON array, one object per acknowledged
    report: {"report_id": N, "udi": {"udi_pid", "udi_serial_number"},
    "status": "ACK"} [I: Cisco has not published the inner JSON];
  - <smartLicenseAccountInfo><customerInfo> smartAccount, virtualAccount (from
    the options, else the manifest);
  - with --trust-code, <smartLicenseTrustCode><udi>P:pid,S:sn</udi><trustCode>
    [I: the element name is not public];
  - <correlationID>, a UUID derived from the input and the device (the output
    is byte-for-byte reproducible).
  Each section ends with <signature>: base64 HMAC-SHA256, keyed with SIM_KEY,
  of the UTF-8 text of the section's content before <signature>. Clearly not
  Cisco's signature: a real device would refuse these files.
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import io
import json
import os
import re
import struct
import sys
import tempfile
import uuid
import xml.etree.ElementTree as ET
import xml.parsers.expat as expat
import zlib
from xml.sax.saxutils import escape

MAX_ENTRIES = 100_000
MAX_ENTRY_SIZE = 64 << 20
MAX_TOTAL = 1 << 30
MAX_PAX_SIZE = 64 << 10
MAX_LONGNAME = 4096
INFLATE_CHUNK = 1 << 20

SIM_KEY = b"cssm_sim: simulator key, NOT a Cisco signing key"
SIM_NAMESPACE = uuid.UUID("6f1d3a0e-3c52-4f57-9d0c-2b6f43a1c9e1")

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
TS_PATTERN = r"\d{2}(?:%s)\d{2}_\d{2}_\d{2}_\d{2}_\d{1,3}" % "|".join(MONTHS)
UD_SA_RE = re.compile(r"UD_SA_(%s)\.tar\.gz" % TS_PATTERN)
UD_VA_RE = re.compile(r"UD_VA_(%s)\.tar\.gz" % TS_PATTERN)
DEV_RE = re.compile(r"dev_(\d+)_(%s)\.txt" % TS_PATTERN)

POLICY_CLASSES = ("subscription", "perpetual", "enforced", "export", "generic")
HOSTILE_KINDS = ("dotdot", "absolute", "symlink", "hardlink", "many-entries", "huge-entry",
                 "gzip-bomb", "truncated", "dtd", "billion-laughs", "not-smartlicense")
XML_KINDS = ("dtd", "billion-laughs", "not-smartlicense")
PATH_KINDS = ("dotdot", "absolute", "symlink", "hardlink")


class Refused(Exception):
    """The input is malformed; the message says where and why."""


# ---------------------------------------------------------------------------
# Timestamps (<ts> = %y%b%d_%H_%M_%S_<ms>, UTC)

def format_ts(when):
    return "%02d%s%02d_%02d_%02d_%02d_%03d" % (
        when.year % 100, MONTHS[when.month - 1], when.day, when.hour, when.minute,
        when.second, when.microsecond // 1000)


def now_ts():
    return format_ts(datetime.datetime.now(datetime.timezone.utc))


def ts_epoch(ts):
    """Seconds since the epoch for a <ts>; Refused when it is not a real date."""
    m = re.fullmatch(r"(\d{2})([A-Za-z]{3})(\d{2})_(\d{2})_(\d{2})_(\d{2})_(\d{1,3})", ts)
    if not m or m.group(2) not in MONTHS:
        raise Refused("%s is not a %%y%%b%%d_%%H_%%M_%%S_<ms> timestamp" % ts)
    yy, mon, dd, hh, mi, ss, _ = m.groups()
    try:
        when = datetime.datetime(2000 + int(yy), MONTHS.index(mon) + 1, int(dd), int(hh),
                                 int(mi), int(ss), tzinfo=datetime.timezone.utc)
    except ValueError as e:
        raise Refused("timestamp %s is not a valid date (%s)" % (ts, e)) from None
    return int(when.timestamp())


# ---------------------------------------------------------------------------
# Reading: gzip and tar streams in memory, with limits

class Budget:
    """Caps shared by every archive level of one input."""

    def __init__(self, max_entries=MAX_ENTRIES, max_entry_size=MAX_ENTRY_SIZE,
                 max_total=MAX_TOTAL):
        self.max_entries, self.max_entry_size, self.max_total = max_entries, max_entry_size, max_total
        self.entries = 0
        self.total = 0

    def count_entry(self, where):
        self.entries += 1
        if self.entries > self.max_entries:
            raise Refused("%s: more than %d archive entries" % (where, self.max_entries))

    def count_bytes(self, where, n):
        self.total += n
        if self.total > self.max_total:
            raise Refused("%s: more than %d bytes once decompressed (gzip bomb?)"
                          % (where, self.max_total))


class Inflater:
    """The decompressed bytes of one gzip stream, produced a chunk at a time and
    counted against the budget as they appear."""

    def __init__(self, source, where, budget):
        self.source = source  # a binary file object holding the compressed bytes
        self.where = where
        self.budget = budget
        self.z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self.buf = b""
        self.pos = 0
        self.done = False

    def _more(self):
        """Inflates the next chunk into buf; False at the end of the stream."""
        if self.done:
            return False
        try:
            if self.z.unconsumed_tail:
                out = self.z.decompress(self.z.unconsumed_tail, INFLATE_CHUNK)
            elif self.z.eof:
                self._finish()
                return False
            else:
                raw = self.source.read(1 << 16)
                if not raw:
                    raise Refused("%s: truncated gzip stream (unexpected end of file)" % self.where)
                out = self.z.decompress(raw, INFLATE_CHUNK)
        except zlib.error as e:
            raise Refused("%s: not a valid gzip stream (%s)" % (self.where, e)) from None
        self.budget.count_bytes(self.where, len(out))
        self.buf = self.buf[self.pos:] + out if self.pos < len(self.buf) else out
        self.pos = 0
        return True

    def _finish(self):
        self.done = True
        if self.z.unused_data or self.source.read(1):
            raise Refused("%s: data after the end of the gzip stream" % self.where)

    def read(self, n):
        """Up to n bytes; fewer only at the end of the stream."""
        while len(self.buf) - self.pos < n and self._more():
            pass
        out = self.buf[self.pos:self.pos + n]
        self.pos += len(out)
        return out

    def skip(self, n):
        while n > 0:
            if self.pos == len(self.buf) and not self._more():
                raise Refused("%s: truncated tar archive" % self.where)
            k = min(n, len(self.buf) - self.pos)
            self.pos += k
            n -= k

    def drain_zero_padding(self):
        """After the end-of-archive blocks only zero padding may follow."""
        while True:
            chunk = self.read(INFLATE_CHUNK)
            if not chunk:
                return
            if chunk.count(0) != len(chunk):
                raise Refused("%s: data after the tar end-of-archive marker" % self.where)


class TarEntry:
    """A regular file of a tar stream; read() returns its bytes."""

    def __init__(self, name, size, inflater, where):
        self.name, self.size = name, size
        self._inflater, self._where = inflater, where
        self.unread = size

    def read(self):
        data = self._inflater.read(self.unread)
        if len(data) != self.unread:
            raise Refused("%s: %s: truncated entry" % (self._where, self.name))
        self.unread = 0
        return data


def _octal(field, what, where):
    if field and field[0] & 0x80:  # GNU base-256
        if field[0] == 0xFF:
            raise Refused("%s: negative %s in a tar header" % (where, what))
        return int.from_bytes(bytes([field[0] & 0x7F]) + field[1:], "big")
    text = field.split(b"\0", 1)[0].strip(b" ")
    if not text:
        return 0
    if not re.fullmatch(rb"[0-7]+", text):
        raise Refused("%s: bad %s %r in a tar header" % (where, what, text))
    return int(text, 8)


def _cstr(field):
    return field.split(b"\0", 1)[0]


CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def _decode_name(raw, where):
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused("%s: entry name %r is not UTF-8" % (where, raw)) from None
    if CONTROL_RE.search(name):
        raise Refused("%s: entry name %r holds control characters" % (where, name))
    return name


def check_safe_path(name, where):
    """Refuses names that would land outside a directory if extracted."""
    if not name:
        raise Refused("%s: entry with an empty name" % where)
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        raise Refused("%s: absolute path %s" % (where, name))
    if "\\" in name:
        raise Refused("%s: backslash in entry name %s" % (where, name))
    if ".." in name.split("/"):
        raise Refused("%s: path %s escapes the archive (.. component)" % (where, name))


def _pax_records(data, where):
    """key -> value of a pax extended header."""
    out, pos = {}, 0
    while pos < len(data):
        m = re.match(rb"(\d+) ", data[pos:pos + 24])
        if not m or int(m.group(1)) < len(m.group(0)) + 2:
            raise Refused("%s: malformed pax header" % where)
        rec = data[pos + len(m.group(0)):pos + int(m.group(1))]
        pos += int(m.group(1))
        if not rec.endswith(b"\n") or b"=" not in rec:
            raise Refused("%s: malformed pax record" % where)
        key, _, value = rec[:-1].partition(b"=")
        out[key.decode("ascii", "replace")] = value
    return out


LINK_TYPES = {b"1": "hard link", b"2": "symbolic link"}
SPECIAL_TYPES = {b"3": "character device", b"4": "block device", b"5": "directory", b"6": "FIFO"}


def _header_checksum_ok(block):
    try:
        stored = _octal(block[148:156], "checksum", "")
    except Refused:
        return False
    unsigned = sum(block[:148]) + 256 + sum(block[156:])
    if stored == unsigned:
        return True
    high = sum(1 for b in block[:148] + block[156:] if b > 127)  # old tars summed signed chars
    return stored == unsigned - 256 * high


def tar_entries(inflater, where, budget):
    """Yields a TarEntry for every regular file of the tar stream; refuses
    everything else. Data a caller does not read is skipped."""
    override = {}
    while True:
        block = inflater.read(512)
        if not block:
            inflater.read(1)  # end of stream without a marker: still check the gzip trailer
            return
        if len(block) < 512:
            raise Refused("%s: truncated tar archive" % where)
        if block.count(0) == 512:
            inflater.drain_zero_padding()
            return
        budget.count_entry(where)
        if not _header_checksum_ok(block):
            raise Refused("%s: not a tar archive (bad header checksum)" % where)
        raw_name = _cstr(block[0:100])
        if block[257:265] == b"ustar\x0000" and block[345] != 0:
            raw_name = _cstr(block[345:500]) + b"/" + raw_name
        if "path" in override:
            raw_name = override["path"]
        size = _octal(block[124:136], "size", where)
        if "size" in override:
            if not re.fullmatch(rb"\d{1,20}", override["size"]):
                raise Refused("%s: bad pax size %r" % (where, override["size"]))
            size = int(override["size"])
        typeflag = block[156:157]
        override = {}
        name = _decode_name(raw_name, where)
        if typeflag in (b"x", b"g", b"L"):
            limit = MAX_LONGNAME if typeflag == b"L" else MAX_PAX_SIZE
            if size > limit:
                raise Refused("%s: extended header of %d bytes (limit %d)" % (where, size, limit))
            data = inflater.read(size)
            if len(data) != size:
                raise Refused("%s: truncated tar archive" % where)
            inflater.skip(-size % 512)
            if typeflag == b"x":
                override = _pax_records(data, where)
            elif typeflag == b"L":
                override = {"path": _cstr(data)}
            continue
        if typeflag in LINK_TYPES:
            target = _cstr(block[157:257]).decode("utf-8", "replace")
            raise Refused("%s: %s %s -> %s (links are refused)" % (where, LINK_TYPES[typeflag], name, target))
        if typeflag in SPECIAL_TYPES:
            raise Refused("%s: %s %s (only regular files are expected)" % (where, SPECIAL_TYPES[typeflag], name))
        if typeflag not in (b"0", b"\0", b"7"):
            raise Refused("%s: entry %s has unsupported tar type %r" % (where, name, typeflag))
        check_safe_path(name, where)
        if size > budget.max_entry_size:
            raise Refused("%s: entry %s is %d bytes (limit %d)" % (where, name, size, budget.max_entry_size))
        entry = TarEntry(name, size, inflater, where)
        yield entry
        inflater.skip(entry.unread + (-size % 512))


# ---------------------------------------------------------------------------
# Reading: safe XML

class _Forbidden(Exception):
    pass


def _forbid(what):
    def handler(*_args):
        raise _Forbidden(what)
    return handler


def parse_xml(data, where):
    """An ElementTree element from untrusted bytes: UTF-8 only, no DTD, no
    entity declarations, no external entities (see the module docstring)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or data[:4] in (b"\0\0\xfe\xff", b"\xff\xfe\0\0"):
        raise Refused("%s: XML is not UTF-8" % where)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Refused("%s: XML is not valid UTF-8 (%s)" % (where, e)) from None
    decl = re.match(rb"<\?xml[^>]*encoding=[\"']([^\"']*)[\"']", data)
    if decl and decl.group(1).lower() not in (b"utf-8", b"utf8"):
        raise Refused("%s: XML declares encoding %s; only UTF-8 is accepted"
                      % (where, decl.group(1).decode("ascii", "replace")))
    builder = ET.TreeBuilder()
    p = expat.ParserCreate("UTF-8")
    p.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    p.StartDoctypeDeclHandler = _forbid("declares a DTD (<!DOCTYPE>)")
    p.EntityDeclHandler = _forbid("declares an entity (<!ENTITY>)")
    p.UnparsedEntityDeclHandler = _forbid("declares an unparsed entity")
    p.ExternalEntityRefHandler = _forbid("references an external entity")
    p.StartElementHandler = builder.start
    p.EndElementHandler = lambda tag: builder.end(tag)
    p.CharacterDataHandler = builder.data
    p.buffer_text = True
    try:
        p.Parse(data, True)
    except _Forbidden as e:
        raise Refused("%s: XML %s; refused" % (where, e)) from None
    except expat.ExpatError as e:
        raise Refused("%s: not well-formed XML (%s)" % (where, e)) from None
    return builder.close()


# ---------------------------------------------------------------------------
# Validation: manifest.mf (PROTOCOL 2.2)

MANIFEST_MAIN = ("Manifest-Version", "Created-By", "Smart-Account", "Smart-Account-ID")
MANIFEST_VA = ("Name", "Specification-VA", "Specification-VA-ID")


def _manifest_sections(text, where):
    sections, cur = [], []
    for line in text.split("\n"):
        line = line[:-1] if line.endswith("\r") else line
        if line == "":
            if cur:
                sections.append(cur)
            cur = []
        elif line.startswith(" "):
            if not cur:
                raise Refused("%s: continuation line with nothing to continue" % where)
            cur[-1] += line[1:]
        else:
            cur.append(line)
    if cur:
        sections.append(cur)
    return sections


def _manifest_fields(lines, expected, where):
    fields = {}
    for line in lines:
        m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9_-]*):(?: (.*))?", line)
        if not m:
            raise Refused("%s: line %r is not \"Key: value\"" % (where, line))
        key, value = m.group(1), m.group(2) or ""
        if key not in expected:
            raise Refused("%s: unexpected field %s in this section (expected %s)"
                          % (where, key, ", ".join(expected)))
        if key in fields:
            raise Refused("%s: field %s given twice" % (where, key))
        fields[key] = value.strip()
    for key in expected:
        if key not in fields:
            raise Refused("%s: field %s missing" % (where, key))
    if lines[0].split(":", 1)[0] != expected[0]:
        raise Refused("%s: section must start with %s" % (where, expected[0]))
    return fields


def parse_manifest(data, where):
    """The manifest's fields (main and per-file sections merged)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused("%s: not UTF-8 text" % where) from None
    sections = _manifest_sections(text, where)
    if len(sections) != 2:
        raise Refused("%s: expected 2 sections separated by a blank line (main, then Name: /UD_VA_...), got %d"
                      % (where, len(sections)))
    fields = _manifest_fields(sections[0], MANIFEST_MAIN, where)
    fields.update(_manifest_fields(sections[1], MANIFEST_VA, where))
    if fields["Manifest-Version"] != "1.0":
        raise Refused("%s: Manifest-Version is %r, expected 1.0" % (where, fields["Manifest-Version"]))
    try:
        created = json.loads(fields["Created-By"])
        uuid.UUID(created["uuid"])
    except (ValueError, TypeError, KeyError, AttributeError):
        raise Refused("%s: Created-By is not {\"uuid\": \"<uuid>\"}: %s" % (where, fields["Created-By"])) from None
    if not fields["Specification-VA"]:
        raise Refused("%s: Specification-VA (virtual account name) is empty" % where)
    return fields


# ---------------------------------------------------------------------------
# Validation: a usage file (PROTOCOL 2.1, 1.4)

class Device:
    """What the ACK needs from one dev file."""

    def __init__(self, dev_id, udi, report_ids):
        self.dev_id, self.udi, self.report_ids = dev_id, udi, report_ids

    @property
    def udi_key(self):
        return "P:%s,S:%s" % self.udi


def _json(text, what, where):
    try:
        return json.loads(text)
    except ValueError as e:
        raise Refused("%s: %s is not JSON (%s)" % (where, what, e)) from None


def _sudi(obj, what, where):
    if not isinstance(obj, dict) or not all(isinstance(obj.get(k), str) and obj.get(k)
                                            for k in ("udi_pid", "udi_serial_number")):
        raise Refused("%s: %s is not {\"udi_pid\", \"udi_serial_number\"}" % (where, what))
    return (obj["udi_pid"], obj["udi_serial_number"])


def _report_id(payload, where):
    version = payload.get("version")
    if version == "2.0":
        holder, path = payload.get("asset_identification"), "asset_identification.report_id"
    elif version is None:
        holder, path = payload.get("meta"), "meta.report_id"
    else:
        raise Refused("%s: unknown payload version %r" % (where, version))
    rid = holder.get("report_id") if isinstance(holder, dict) else None
    if isinstance(rid, str) and rid.isdigit() and rid.isascii():
        rid = int(rid)
    if not isinstance(rid, int) or isinstance(rid, bool) or rid < 0:
        raise Refused("%s: payload has no report id (%s)" % (where, path))
    return rid


def _report_udi(payload, report, where):
    ai = payload.get("asset_identification")
    inst = ai.get("instance") if isinstance(ai, dict) else None
    sig = report["signature"]
    if isinstance(inst, dict) and "sudi" in inst:
        udi = _sudi(inst["sudi"], "asset_identification.instance.sudi", where)
    elif "sudi" in sig:
        udi = _sudi(sig["sudi"], "signature.sudi", where)
    else:
        raise Refused("%s: payload has no UDI (asset_identification.instance.sudi)" % where)
    if "sudi" in sig and _sudi(sig["sudi"], "signature.sudi", where) != udi:
        raise Refused("%s: signature.sudi %s differs from the payload's UDI %s"
                      % (where, "P:%s,S:%s" % _sudi(sig["sudi"], "", where), "P:%s,S:%s" % udi))
    return udi


def check_report(text, where):
    """(report id, udi, payload text) of one RUMReport's JSON text."""
    report = _json(text, "RUMReport", where)
    if not isinstance(report, dict):
        raise Refused("%s: RUMReport is not a JSON object" % where)
    if not isinstance(report.get("payload"), str):
        raise Refused("%s: RUMReport has no payload string" % where)
    if not isinstance(report.get("signature"), dict):
        raise Refused("%s: RUMReport has no signature object" % where)
    if "header" in report and not isinstance(report["header"], dict):
        raise Refused("%s: RUMReport header is not an object" % where)
    payload = _json(report["payload"], "payload", where)
    if not isinstance(payload, dict):
        raise Refused("%s: payload is not a JSON object" % where)
    return _report_id(payload, where), _report_udi(payload, report, where), report["payload"]


def _system_info_udi(elem, where):
    data = elem.find("data")
    if data is None:
        raise Refused("%s: smartLicenseSystemInfo has no <data>" % where)
    info = _json("".join(data.itertext()), "smartLicenseSystemInfo data", where)
    if not isinstance(info, dict):
        raise Refused("%s: smartLicenseSystemInfo data is not a JSON object" % where)
    return _sudi(info["sudi"], "smartLicenseSystemInfo sudi", where) if "sudi" in info else None


def check_usage_file(data, dev_id, where):
    """A Device from a dev file's bytes."""
    root = parse_xml(data, where)
    if root.tag != "smartLicense":
        raise Refused("%s: root element is <%s>, expected <smartLicense>" % (where, root.tag))
    if (root.text or "").strip():
        raise Refused("%s: stray text in <smartLicense>" % where)
    info_udi, seen_info, udi, payloads, ids = None, False, None, {}, []
    n = 0
    for elem in root:
        if (elem.tail or "").strip():
            raise Refused("%s: stray text after <%s>" % (where, elem.tag))
        if elem.tag == "smartLicenseSystemInfo":
            if seen_info:
                raise Refused("%s: more than one smartLicenseSystemInfo" % where)
            seen_info, info_udi = True, _system_info_udi(elem, where)
        elif elem.tag == "RUMReport":
            n += 1
            rwhere = "%s: RUMReport %d" % (where, n)
            rid, rudi, payload = check_report("".join(elem.itertext()).strip(), rwhere)
            if udi is not None and rudi != udi:
                raise Refused("%s: UDI P:%s,S:%s differs from the file's earlier reports (P:%s,S:%s)"
                              % ((rwhere,) + rudi + udi))
            udi = rudi
            if rid in payloads and payloads[rid] != payload:
                raise Refused("%s: report id %d appears twice with different payloads" % (rwhere, rid))
            if rid not in payloads:
                ids.append(rid)
            payloads[rid] = payload
        elif not elem.tag.startswith("smartLicense"):
            raise Refused("%s: unexpected element <%s> in a usage file" % (where, elem.tag))
    if not n:
        raise Refused("%s: no RUMReport element" % where)
    if info_udi is not None and info_udi != udi:
        raise Refused("%s: reports are for P:%s,S:%s but smartLicenseSystemInfo says P:%s,S:%s"
                      % ((where,) + udi + info_udi))
    return Device(dev_id, udi, ids)


# ---------------------------------------------------------------------------
# Validation: the export as a whole (PROTOCOL 2.2)

class Export:
    def __init__(self, ts, manifest, inner_name, devices, digest):
        self.ts, self.manifest, self.inner_name = ts, manifest, inner_name
        self.devices, self.digest = devices, digest


def _read_outer(f, where, ts, budget):
    """(manifest bytes, inner name, inner bytes) from the outer archive."""
    found = {}
    for entry in tar_entries(Inflater(f, where, budget), where, budget):
        m = UD_VA_RE.fullmatch(entry.name)
        if entry.name == "manifest.mf":
            key = "manifest"
        elif m:
            key = "inner"
            if m.group(1) != ts:
                raise Refused("%s: %s does not carry the export's timestamp %s" % (where, entry.name, ts))
        else:
            raise Refused("%s: unexpected entry %s (expected manifest.mf and UD_VA_%s.tar.gz)"
                          % (where, entry.name, ts))
        if key in found:
            raise Refused("%s: more than one %s" % (where, "manifest.mf" if key == "manifest" else "UD_VA tarball"))
        found[key] = (entry.name, entry.read())
    if "manifest" not in found:
        raise Refused("%s: no manifest.mf" % where)
    if "inner" not in found:
        raise Refused("%s: no UD_VA_%s.tar.gz" % (where, ts))
    return found["manifest"][1], found["inner"][0], found["inner"][1]


def _scan_inner(data, where, ts, budget):
    """Pass 1 over the inner archive: names, types, sizes, counts. Returns the
    device ids in archive order."""
    ids = {}
    for entry in tar_entries(Inflater(io.BytesIO(data), where, budget), where, budget):
        m = DEV_RE.fullmatch(entry.name)
        if not m:
            raise Refused("%s: unexpected entry %s (expected dev_<digits>_%s.txt)" % (where, entry.name, ts))
        if m.group(2) != ts:
            raise Refused("%s: %s does not carry the export's timestamp %s" % (where, entry.name, ts))
        if int(m.group(1)) in ids:
            raise Refused("%s: device id %s appears twice (%s)" % (where, m.group(1), entry.name))
        ids[int(m.group(1))] = entry.name
    if not ids:
        raise Refused("%s: holds no dev_<id>_%s.txt file" % (where, ts))
    return ids


def _read_devices(data, where, budget):
    """Pass 2 over the inner archive: every dev file's content."""
    devices, by_udi = [], {}
    for entry in tar_entries(Inflater(io.BytesIO(data), where, budget), where, budget):
        dev_id = DEV_RE.fullmatch(entry.name).group(1)
        dev = check_usage_file(entry.read(), dev_id, "%s: %s" % (where, entry.name))
        if dev.udi in by_udi:
            raise Refused("%s: %s and %s are both for %s" % (where, by_udi[dev.udi], entry.name, dev.udi_key))
        by_udi[dev.udi] = entry.name
        devices.append(dev)
    return devices


def read_export(path, budget=None):
    """Validates an UD_SA file; returns an Export or raises Refused."""
    base = os.path.basename(path)
    m = UD_SA_RE.fullmatch(base)
    if not m:
        raise Refused("%s: file name is not UD_SA_<%%y%%b%%d_%%H_%%M_%%S_ms>.tar.gz" % base)
    ts = m.group(1)
    ts_epoch(ts)
    budget = budget or Budget()
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        manifest_bytes, inner_name, inner = _read_outer(_Hashing(f, digest), base, ts, budget)
    manifest = parse_manifest(manifest_bytes, "%s: manifest.mf" % base)
    if manifest["Name"] != "/" + inner_name:
        raise Refused("%s: manifest.mf: Name is %r, the archive holds /%s" % (base, manifest["Name"], inner_name))
    inner_where = "%s: %s" % (base, inner_name)
    _scan_inner(inner, inner_where, ts, budget)
    devices = _read_devices(inner, inner_where, Budget())
    return Export(ts, manifest, inner_name, devices, digest.hexdigest())


class _Hashing:
    """A file wrapper hashing what is read (the correlation ids derive from it)."""

    def __init__(self, f, digest):
        self.f, self.digest = f, digest

    def read(self, n):
        data = self.f.read(n)
        self.digest.update(data)
        return data


# ---------------------------------------------------------------------------
# Writing: tar and gzip

def tar_header(name, size, typeflag=b"0", linkname="", mtime=0, mode=0o644):
    """A ustar header block (sizes of 8 GiB and more in base-256)."""
    raw = name.encode("utf-8")
    if len(raw) > 100:
        raise ValueError("tar name longer than 100 bytes: %s" % name)
    h = bytearray(512)
    h[0:len(raw)] = raw
    h[100:108] = b"%07o\0" % mode
    h[108:116] = b"%07o\0" % 0
    h[116:124] = b"%07o\0" % 0
    h[124:136] = b"%011o\0" % size if size < 8 ** 11 else b"\x80" + size.to_bytes(11, "big")
    h[136:148] = b"%011o\0" % mtime
    h[148:156] = b" " * 8
    h[156:157] = typeflag
    link = linkname.encode("utf-8")
    h[157:157 + len(link)] = link
    h[257:265] = b"ustar\x0000"
    h[265:269] = b"root"
    h[297:301] = b"root"
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)


def empty_entries(names):
    """Header blocks of empty files, fast: only the name and checksum vary."""
    template = tar_header("", 0)
    base = sum(template[:148]) + 256 + sum(template[156:])
    out = []
    for name in names:
        raw = name.encode("utf-8")
        out.append(raw.ljust(100, b"\0") + template[100:148] + b"%06o\0 " % (base + sum(raw)) + template[156:])
    return out


def tar_member(name, data, mtime=0):
    return tar_header(name, len(data), mtime=mtime) + data + bytes(-len(data) % 512)


TAR_END = bytes(1024)


def tar_bytes(members, mtime=0):
    """A tar archive of (name, bytes) pairs."""
    return b"".join(tar_member(n, d, mtime) for n, d in members) + TAR_END


def gzip_bytes(data):
    """gzip with a zero mtime: the same input gives the same bytes."""
    z = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return z.compress(data) + z.flush()


def _gf2_apply(matrix, vector):
    out, i = 0, 0
    while vector:
        if vector & 1:
            out ^= matrix[i]
        vector >>= 1
        i += 1
    return out


def _gf2_mul(a, b):
    return [_gf2_apply(a, column) for column in b]


_ZERO_OPERATORS = {}


def _zeros_operator(n):
    """The GF(2) matrix that carries a CRC-32 over n zero bytes (as zlib's
    crc32_combine does), cached by n."""
    op = _ZERO_OPERATORS.get(n)
    if op is None:
        step = [0xEDB88320] + [1 << k for k in range(31)]  # one zero bit
        for _ in range(3):
            step = _gf2_mul(step, step)  # 2, 4, then 8 bits: one byte
        op, m = [1 << k for k in range(32)], n
        while m:
            if m & 1:
                op = _gf2_mul(step, op)
            step = _gf2_mul(step, step)
            m >>= 1
        _ZERO_OPERATORS[n] = op
    return op


def crc32_combine(crc1, crc2, len2):
    """zlib.crc32(a + b) from crc1 = crc32(a), crc2 = crc32(b), len2 = len(b)."""
    return _gf2_apply(_zeros_operator(len2), crc1) ^ crc2


class GzipPieces:
    """A gzip stream built from pieces, each deflated once however often it is
    repeated: gigabytes of padding cost one chunk of CPU and a few kilobytes."""

    def __init__(self, sink):
        self.sink = sink
        self.crc = 0
        self.size = 0
        self.cache = {}  # piece -> (deflated, crc32)
        sink.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03")

    def _pack(self, data):
        hit = self.cache.get(data)
        if hit is None:
            z = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
            hit = (z.compress(data) + z.flush(zlib.Z_SYNC_FLUSH), zlib.crc32(data))  # byte-aligned
            if len(data) >= 4096:
                self.cache[data] = hit
        return hit

    def add(self, data, times=1):
        packed, crc = self._pack(data)
        for _ in range(times):
            self.sink.write(packed)
            self.crc = crc32_combine(self.crc, crc, len(data))
        self.size += len(data) * times

    def close(self):
        self.sink.write(b"\x03\x00" + struct.pack("<II", self.crc, self.size & 0xFFFFFFFF))


def write_atomically(path, data):
    """Writes data to path through a temporary name in the same directory."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


# ---------------------------------------------------------------------------
# Writing: ACK files (PROTOCOL 2.3)

def sign(content):
    return base64.b64encode(hmac.new(SIM_KEY, content.encode("utf-8"), hashlib.sha256).digest()).decode()


def signed_section(tag, content):
    return "<%s>%s<signature>%s</signature></%s>\n" % (tag, content, sign(content), tag)


def cdata(text):
    return "<![CDATA[%s]]>" % text.replace("]]>", "]]]]><![CDATA[>")


def policy_section(name, days):
    d = "<firstTimeReport>%d</firstTimeReport><onGoingReporting>%d</onGoingReporting>" \
        "<reportOnMACD>%d</reportOnMACD>" % (days, days, days)
    blocks = "".join("<%s>%s</%s>" % (c, d, c) for c in POLICY_CLASSES)
    return signed_section("smartLicensePolicy", "<policyCode><name>%s</name><version>1</version>"
                          "<ackRequired>yes</ackRequired>%s</policyCode>" % (escape(name), blocks))


def rum_ack_section(device):
    pid, sn = device.udi
    acks = [{"report_id": rid, "udi": {"udi_pid": pid, "udi_serial_number": sn}, "status": "ACK"}
            for rid in device.report_ids]
    return signed_section("smartLicenseRumAck", "<data>%s</data>" % cdata(json.dumps(acks, separators=(",", ":"))))


def account_section(smart_account, virtual_account):
    return signed_section("smartLicenseAccountInfo", "<customerInfo><smartAccount>%s</smartAccount>"
                          "<virtualAccount>%s</virtualAccount></customerInfo>"
                          % (escape(smart_account), escape(virtual_account)))


def trust_section(device):
    code = base64.b64encode(hmac.new(SIM_KEY, device.udi_key.encode(), hashlib.sha256).digest()).decode()
    return signed_section("smartLicenseTrustCode", "<udi>%s</udi><trustCode>%s</trustCode>"
                          % (escape(device.udi_key), code))


def render_ack(device, opts, correlation_id):
    """The ACK_dev file for one device."""
    body = [policy_section(opts.policy_name, opts.reporting_days), rum_ack_section(device),
            account_section(opts.smart_account, opts.virtual_account)]
    if opts.trust_code:
        body.append(trust_section(device))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<smartLicense>\n%s<correlationID>%s</correlationID>\n'
            "</smartLicense>\n" % ("".join(body), correlation_id)).encode("utf-8")


def ack_name(device, ts):
    return "ACK_dev_%s_%s.txt" % (device.dev_id, ts)


def build_ack(export, opts):
    """(ACK_UD_SA file name, its bytes, [(device, ACK_dev name)])."""
    mtime = ts_epoch(export.ts)
    files = []
    for dev in export.devices:
        corr = uuid.uuid5(SIM_NAMESPACE, "%s/%s" % (export.digest, dev.dev_id))
        files.append((ack_name(dev, export.ts), render_ack(dev, opts, corr)))
    inner = gzip_bytes(tar_bytes(files, mtime))
    outer = gzip_bytes(tar_bytes([("ACK_UD_VA_%s.tar.gz" % export.ts, inner)], mtime))
    return "ACK_UD_SA_%s.tar.gz" % export.ts, outer, [(d, n) for d, (n, _) in zip(export.devices, files)]


def cmd_ack(args):
    try:
        export = read_export(args.export)
    except Refused as e:
        print("cssm_sim: refused %s" % " ".join(str(e).split()), file=sys.stderr)
        return 2
    except OSError as e:
        print("cssm_sim: cannot read %s: %s" % (args.export, e.strerror), file=sys.stderr)
        return 2
    args.smart_account = args.smart_account or export.manifest["Smart-Account"] or "Simulated Smart Account"
    args.virtual_account = args.virtual_account or export.manifest["Specification-VA"]
    name, data, listing = build_ack(export, args)
    os.makedirs(args.out_dir, exist_ok=True)
    path = os.path.join(args.out_dir, name)
    write_atomically(path, data)
    for dev, ack in listing:
        print("%s  %s  %d report(s) acknowledged" % (ack, dev.udi_key, len(dev.report_ids)))
    print("total: %d device(s), %d report(s) acknowledged -> %s"
          % (len(listing), sum(len(d.report_ids) for d, _ in listing), path))
    return 0


# ---------------------------------------------------------------------------
# make-export: synthetic devices, or real usage files wrapped

PIDS = ("C9300-24P", "C8000V", "ISR4431/K9")


def sw_tag(pid):
    return "regid.2017-05.com.cisco.%s,v1_00000000-0000-4000-8000-000000000000" % pid.replace("/", "-")


ENTITLEMENT = "regid.2018-12.com.cisco.DNA_P_50M_A,1.0_100fb8b2-f5cc-459c-9253-ac77b827fd71"


def sudi(pid, sn):
    return {"udi_pid": pid, "udi_serial_number": sn}


def synthetic_payload(pid, sn, report_id, fmt, start):
    """A RUM payload shaped like shared/fixtures/rum/ (format A or B)."""
    tag = sw_tag(pid)
    end = start + 3600
    asset = {"asset": {"name": tag}, "instance": {"sudi": sudi(pid, sn)},
             "signature": {"signing_type": "builtin", "key": tag, "value": sn}}
    meta = {"entitlement_tag": ENTITLEMENT, "software_version": "17.09.04",
            "ha_udi": [{"role": "Active", "sudi": sudi(pid, sn)}]}
    measurements = [{"log_time": end, "metric_name": "ENTITLEMENT", "start_time": start, "end_time": end,
                     "sample_interval": 3600, "num_samples": 2,
                     "meta": {"termination_reason": "CurrentUsageRequested"},
                     "value": {"type": "COUNT", "value": "1"}}]
    if fmt == "B":
        asset["report_id"] = report_id
        return {"version": "2.0", "asset_identification": asset, "meta": meta, "measurements": measurements}
    return {"asset_identification": asset, "meta": dict(meta, report_id=report_id), "measurements": measurements}


def synthetic_report(pid, sn, report_id, fmt, start):
    text = json.dumps(synthetic_payload(pid, sn, report_id, fmt, start), separators=(",", ":"))
    value = base64.b64encode(hmac.new(sn.encode(), text.encode(), hashlib.sha256).digest()).decode()
    return {"payload": text, "header": {"type": "rum"},
            "signature": {"sudi": sudi(pid, sn), "signing_type": "builtin", "key": sw_tag(pid), "value": value}}


def usage_xml(pid, sn, hostname, reports, system_info=True):
    """A usage file (PROTOCOL 2.1) holding the given report objects."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<smartLicense>\n']
    if system_info:
        info = {"sudi": sudi(pid, sn), "timestamp": 1700000000000, "nonce": "0123456789abcdef",
                "hostname": hostname, "software_tag_identifier": sw_tag(pid)}
        out.append("<smartLicenseSystemInfo><data>%s</data></smartLicenseSystemInfo>\n"
                   % escape(json.dumps(info, separators=(",", ":"))))
    for rep in reports:
        out.append("<RUMReport>%s</RUMReport>\n" % cdata(json.dumps(rep, separators=(",", ":"))))
    out.append("</smartLicense>\n")
    return "".join(out).encode("utf-8")


def synthetic_device(index, n_reports):
    pid = PIDS[index % len(PIDS)]
    sn = "SIM%07dX" % index
    reports = [synthetic_report(pid, sn, 1700000000 + index * 100000 + j, "AB"[index % 2], 1700000000 + j * 3600)
               for j in range(1, n_reports + 1)]
    return usage_xml(pid, sn, "sim-%d" % index, reports)


def manifest_text(inner_name, smart_account, virtual_account, instance_uuid=None):
    return ("Manifest-Version: 1.0\nCreated-By: %s\nSmart-Account: %s\nSmart-Account-ID: \n\n"
            "Name: /%s\nSpecification-VA: %s\nSpecification-VA-ID: \n"
            % (json.dumps({"uuid": str(instance_uuid or uuid.uuid4())}), smart_account, inner_name,
               virtual_account)).encode("utf-8")


def export_bytes(ts, dev_files, smart_account="Simulated Smart Account", virtual_account="Default"):
    """An UD_SA archive's bytes; dev_files: [(device id, usage file bytes)]."""
    mtime = ts_epoch(ts)
    inner_name = "UD_VA_%s.tar.gz" % ts
    inner = gzip_bytes(tar_bytes([("dev_%s_%s.txt" % (i, ts), d) for i, d in dev_files], mtime))
    manifest = manifest_text(inner_name, smart_account, virtual_account)
    return gzip_bytes(tar_bytes([("manifest.mf", manifest), (inner_name, inner)], mtime))


def output_path(out, pattern, prefix):
    """(path, ts): a directory gets a fresh <prefix><ts>.tar.gz, a file name
    matching pattern keeps its ts."""
    if os.path.isdir(out):
        ts = now_ts()
        return os.path.join(out, "%s%s.tar.gz" % (prefix, ts)), ts
    m = pattern.fullmatch(os.path.basename(out))
    return out, (m.group(1) if m else now_ts())


def cmd_make_export(args):
    path, ts = output_path(args.out, UD_SA_RE, "UD_SA_")
    if args.usage:
        dev_files = []
        for i, name in enumerate(args.usage, 1):
            with open(name, "rb") as f:
                dev_files.append((i, f.read()))
    elif args.devices and args.reports_per_device:
        dev_files = [(i, synthetic_device(i, args.reports_per_device)) for i in range(1, args.devices + 1)]
    else:
        print("cssm_sim: make-export needs --usage FILE... or --devices N --reports-per-device M",
              file=sys.stderr)
        return 2
    write_atomically(path, export_bytes(ts, dev_files, args.smart_account, args.virtual_account))
    print(path)
    return 0


# ---------------------------------------------------------------------------
# make-hostile

class Shape:
    """Names and a valid leaf file for an ACK-shaped or export-shaped archive."""

    def __init__(self, kind, ts):
        self.kind, self.ts = kind, ts
        ack = kind == "ack"
        self.outer = ("ACK_UD_SA_%s.tar.gz" if ack else "UD_SA_%s.tar.gz") % ts
        self.inner = ("ACK_UD_VA_%s.tar.gz" if ack else "UD_VA_%s.tar.gz") % ts
        self.leaf_fmt = ("ACK_dev_%s_" if ack else "dev_%s_") + ts + ".txt"

    def leaf(self, i):
        return self.leaf_fmt % i

    def valid_leaf(self, i=1):
        data = synthetic_device(i, 1)
        if self.kind == "export":
            return data
        dev = check_usage_file(data, str(i), self.leaf(i))
        opts = argparse.Namespace(policy_name="Simulated Policy", reporting_days=30, trust_code=False,
                                  smart_account="Simulated Smart Account", virtual_account="Default")
        return render_ack(dev, opts, uuid.uuid5(SIM_NAMESPACE, str(i)))

    def outer_members(self, inner_gz):
        """Outer archive records around the inner gzip bytes."""
        recs = []
        if self.kind == "export":
            recs.append(tar_member("manifest.mf", manifest_text(self.inner, "Simulated Smart Account", "Default")))
        return recs + [tar_member(self.inner, inner_gz)]


def hostile_member(kind, name, data):
    """A tar record carrying a path or link attack on a plausible name."""
    if kind == "dotdot":
        return tar_member("../../" + name, data)
    if kind == "absolute":
        return tar_member("/tmp/" + name, data)
    typeflag = b"2" if kind == "symlink" else b"1"
    return tar_header(name, 0, typeflag, linkname="/etc/passwd")


def hostile_xml(kind, base):
    """A leaf document that no importer should parse through."""
    if kind == "not-smartlicense":
        return (b'<?xml version="1.0" encoding="UTF-8"?>\n<html><head><title>Upload failed</title></head>'
                b"<body><p>Session expired. Please sign in again.</p></body></html>\n")
    if kind == "dtd":
        dtd = (b'<!DOCTYPE smartLicense SYSTEM "http://127.0.0.1:9/smartLicense.dtd" [\n'
               b'  <!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n')
        ref = b"&xxe;"
    else:
        lines = [b'  <!ENTITY lol "lol">']
        lines += [b'  <!ENTITY lol%d "%s">' % (i, b"&lol%d;" % (i - 1) * 10 if i > 1 else b"&lol;" * 10)
                  for i in range(1, 10)]
        dtd = b"<!DOCTYPE smartLicense [\n" + b"\n".join(lines) + b"\n]>\n"
        ref = b"&lol9;"
    head, _, rest = base.partition(b"\n")
    rest = re.sub(rb"<correlationID>.*?</correlationID>\n", b"", rest)
    rest = rest.replace(b"</smartLicense>", b"<correlationID>" + ref + b"</correlationID>\n</smartLicense>")
    return head + b"\n" + dtd + rest


def inner_for(kind, shape, level):
    """The inner archive's gzip bytes for an archive kind."""
    members = [tar_member(shape.leaf(1), shape.valid_leaf(1))]
    if kind in PATH_KINDS and level == "inner":
        members.append(hostile_member(kind, shape.leaf(2), shape.valid_leaf(2)))
    elif kind in XML_KINDS:
        members = [tar_member(shape.leaf(1), hostile_xml(kind, shape.valid_leaf(1)))]
    elif kind == "many-entries":
        members = empty_entries([shape.leaf(i) for i in range(1, MAX_ENTRIES + 2)])
    elif kind in ("huge-entry", "gzip-bomb"):
        sink = io.BytesIO()
        (huge_entry if kind == "huge-entry" else gzip_bomb)(GzipPieces(sink), shape)
        return sink.getvalue()
    return gzip_bytes(b"".join(members) + TAR_END)


HUGE_ENTRY_SIZE = 2 << 30
BOMB_ENTRY_SIZE = 8 << 20
BOMB_ENTRIES = 384  # 3 GiB in all, each entry well under any sane per-file cap


def huge_entry(gz, shape):
    """One entry whose header claims 2 GiB, followed by that many zeros."""
    gz.add(tar_header(shape.leaf(1), HUGE_ENTRY_SIZE))
    gz.add(bytes(INFLATE_CHUNK), HUGE_ENTRY_SIZE // INFLATE_CHUNK)
    gz.add(TAR_END)
    gz.close()


def gzip_bomb(gz, shape):
    """Many well-formed leaf files, each padded with whitespace to 8 MiB: only a
    cap on the total decompressed size stops it."""
    base = shape.valid_leaf(1)
    head, tail = base[:-len(b"</smartLicense>\n")], b"</smartLicense>\n"
    pad = BOMB_ENTRY_SIZE - len(head) - len(tail)
    for i in range(1, BOMB_ENTRIES + 1):
        gz.add(tar_header(shape.leaf(i), BOMB_ENTRY_SIZE) + head)
        gz.add(b" " * INFLATE_CHUNK, pad // INFLATE_CHUNK)
        gz.add(b" " * (pad % INFLATE_CHUNK) + tail)
    gz.add(TAR_END)
    gz.close()


def hostile_bytes(kind, shape_name, level, ts):
    shape = Shape(shape_name, ts)
    if shape_name == "xml":
        return hostile_xml(kind, Shape("ack", ts).valid_leaf(1))
    if kind == "truncated":
        whole = gzip_bytes(b"".join(shape.outer_members(inner_for("valid", shape, "inner"))) + TAR_END)
        return whole[:len(whole) // 2]
    inner = inner_for(kind, shape, level)
    members = shape.outer_members(inner)
    if kind in PATH_KINDS and level == "outer":
        members.append(hostile_member(kind, shape.inner, inner))
    return gzip_bytes(b"".join(members) + TAR_END)


def cmd_make_hostile(args):
    shape = args.shape or ("xml" if args.kind in XML_KINDS else "ack")
    if shape == "xml" and args.kind not in XML_KINDS:
        print("cssm_sim: --shape xml only suits %s" % ", ".join(XML_KINDS), file=sys.stderr)
        return 2
    m = re.search(r"UD_SA_(%s)\.tar\.gz$" % TS_PATTERN, os.path.basename(args.out))
    ts = m.group(1) if m else now_ts()
    write_atomically(args.out, hostile_bytes(args.kind, shape, args.level, ts))
    print(args.out)
    return 0


# ---------------------------------------------------------------------------
# Command line

def days(text):
    value = int(text)
    if not 0 <= value <= 100000:
        raise argparse.ArgumentTypeError("reporting days must be 0..100000")
    return value


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def parser():
    p = argparse.ArgumentParser(prog="cssm_sim.py", description="CSSM simulator for rumd's air-gap tests.")
    sub = p.add_subparsers(dest="command", required=True)
    a = sub.add_parser("ack", help="validate an UD_SA export and write its ACK_UD_SA")
    a.add_argument("export", metavar="UD_SA_FILE")
    a.add_argument("-o", "--out-dir", required=True, metavar="OUT_DIR")
    a.add_argument("--reporting-days", type=days, default=90)
    a.add_argument("--trust-code", action="store_true")
    a.add_argument("--policy-name", default="CSSM Simulator Policy")
    a.add_argument("--smart-account")
    a.add_argument("--virtual-account")
    e = sub.add_parser("make-export", help="build a valid UD_SA export")
    e.add_argument("--out", required=True, metavar="FILE|DIR")
    e.add_argument("--devices", type=positive)
    e.add_argument("--reports-per-device", type=positive)
    e.add_argument("--usage", action="append", metavar="FILE", help="a usage file (repeatable)")
    e.add_argument("--smart-account", default="Simulated Smart Account")
    e.add_argument("--virtual-account", default="Default")
    h = sub.add_parser("make-hostile", help="build a hostile archive or XML file")
    h.add_argument("kind", choices=HOSTILE_KINDS)
    h.add_argument("--out", required=True, metavar="FILE")
    h.add_argument("--shape", choices=("ack", "export", "xml"),
                   help="nested ACK tarballs (default), an UD_SA export, or one XML file (default for XML kinds)")
    h.add_argument("--level", choices=("inner", "outer"), default="inner",
                   help="where path and link attacks sit (default: beside the device files)")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    return {"ack": cmd_ack, "make-export": cmd_make_export, "make-hostile": cmd_make_hostile}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
