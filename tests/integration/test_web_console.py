"""The admin console in a real browser (Debian's headless Chromium driven by
Selenium) against a real rumd and PostgreSQL, with rum-agent devices: signing
in with a password or a token, the overview answering "is anything wrong?", a
device that pushes appearing in the device list, an overdue device shown as
overdue, a device page with its reports, another tenant's device URL not
found, the air gap (export downloaded, the CSSM simulator's ACK uploaded, the
device taking it on its next contact), a pull target added, edited and
collected, tokens shown once, what a reader is not offered, the usage chart,
the Secure cookie over HTTPS, signing out, and no console errors on any page. Without a browser the test can still check how the page
and its files are served: strict headers, gzip, content-hashed names cached
for good."""

import glob
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import time

import rumtest as rt
import sshdtest

HERE = os.path.dirname(os.path.abspath(__file__))
CSSM_SIM = os.path.join(HERE, "..", "tools", "cssm_sim.py")
BUILD = os.environ.get("RUM_BUILD_DIR") or os.path.join(HERE, "..", "..", "build")
AGENT = os.path.join(BUILD, "agent", "rum-agent")
TAG = "regid.2017-03.com.cisco.advantagek9,1.0_bd1da96e-ec1d-412b-a50e-53846b347d53"

PASSWORD = "console password 1"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait
    HAVE_SELENIUM = True
except ImportError:
    HAVE_SELENIUM = False


class WebConsole(rt.RumTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.url, cls.db = cls.fresh_database("webconsole")
        rt.add_tenant(cls.url, "other")
        # Usage is counted every second, with no lag, for the usage chart.
        cls.rumd = cls.start_class_rumd(database_url=cls.url,
                                        flags={"usage_lag_s": 0, "upkeep_interval_s": 1})
        for name, role, tenant in (("alice", "admin", None), ("rita", "reader", "other")):
            args = ["user", "add", name, "--role", role, "--database_url=%s" % cls.url]
            if tenant:
                args += ["--tenant", tenant]
            proc = rt.run_rumd(args, input=PASSWORD + "\n")
            assert proc.returncode == 0, proc.stderr
        proc = rt.run_rumd(["token", "create", "--role", "reader",
                            "--database_url=%s" % cls.url])
        assert proc.returncode == 0, proc.stderr
        cls.token = proc.stdout.strip()
        cls.base = "http://127.0.0.1:%d" % cls.rumd.port
        cls.driver = None

    @classmethod
    def tearDownClass(cls):
        if cls.driver:
            cls.driver.quit()
        super().tearDownClass()

    # -- how the page is served (no browser needed) ------------------------

    def test_1_page_and_assets_are_served_strictly(self):
        reply = self.rumd.request("GET", "/", headers={"Accept-Encoding": "identity"})
        self.assertEqual(reply.status, 200, reply)
        h = reply.headers
        self.assertTrue(h["content-type"].startswith("text/html"))
        csp = h["content-security-policy"]
        self.assertIn("script-src 'self'", csp)
        self.assertIn("frame-ancestors 'none'", csp)
        self.assertNotIn("unsafe-inline", csp)
        self.assertEqual(h["x-content-type-options"], "nosniff")
        self.assertEqual(h["x-frame-options"], "DENY")
        self.assertEqual(h["cache-control"], "no-cache")
        page = reply.raw.decode()
        self.assertNotIn("<script>", page, "no inline script")
        assets = re.findall(r'"(/assets/[0-9a-f]{16}/[a-z.]+)"', page)
        self.assertIn("app.js", " ".join(assets))
        total = len(reply.raw)
        for path in assets:
            with self.subTest(asset=path):
                plain = self.rumd.request("GET", path, headers={"Accept-Encoding": "identity"})
                self.assertEqual(plain.status, 200)
                self.assertIn("immutable", plain.headers["cache-control"])
                self.assertIn("content-security-policy", plain.headers)
                zipped = self.rumd.request("GET", path, headers={"Accept-Encoding": "gzip"})
                self.assertEqual(zipped.headers.get("content-encoding"), "gzip")
                self.assertEqual(gzip.decompress(zipped.raw), plain.raw)
                total += len(zipped.raw)
        self.assertLess(total, 300 * 1024, "the first visit's bytes")
        build = assets[0].split("/")[2]
        for path, status in (("/assets/%s/index.html" % build, 404),
                             ("/assets/0000000000000000/app.js", 404),
                             ("/assets/%s/nothing.js" % build, 404),
                             ("/index.html", 404)):
            with self.subTest(path=path):
                self.assertEqual(self.rumd.get(path).status, status)
        self.assertEqual(self.rumd.request("POST", "/", b"x").status, 405)

    # -- in the browser -----------------------------------------------------

    def browser(self):
        if not HAVE_SELENIUM:
            self.skipTest("python3-selenium is not installed (apt-get install python3-selenium)")
        if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
            self.skipTest("chromium and chromium-driver are not installed")
        if type(self).driver is None:
            opts = webdriver.ChromeOptions()
            opts.binary_location = CHROMIUM
            # The HTTPS test's rumd has a self-signed certificate.
            for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                        "--ignore-certificate-errors",
                        "--disable-dev-shm-usage", "--window-size=1280,900",
                        "--user-data-dir=" + rt.make_tempdir("rumtest-chromium-")):
                opts.add_argument(arg)
            opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
            type(self).downloads = rt.make_tempdir("rumtest-downloads-")
            opts.add_experimental_option("prefs", {
                "download.default_directory": type(self).downloads,
                "download.prompt_for_download": False})
            type(self).driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
            type(self).driver.execute_cdp_cmd("Page.setDownloadBehavior", {
                "behavior": "allow", "downloadPath": type(self).downloads})
        return type(self).driver

    def wait_for(self, cond, what, timeout=15):
        try:
            return WebDriverWait(self.driver, timeout).until(cond)
        except Exception:
            self.fail("%s (page: %s)" % (what, self.driver.find_element(
                By.TAG_NAME, "body").text[:2000]))

    def text_appears(self, text, timeout=15):
        self.wait_for(lambda d: text in d.find_element(By.TAG_NAME, "body").text,
                      "'%s' on the page" % text, timeout)

    def console_errors(self):
        return [e for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]

    def sign_in(self, user=None, token=None):
        d = self.driver
        # Whatever an earlier test left (it may have stopped signed in) is
        # cleared before the page runs.
        d.execute_cdp_cmd("Network.clearBrowserCookies", {})
        d.get(self.base + "/")
        self.wait_for(EC.element_to_be_clickable((By.ID, "signin")), "the sign-in form")
        if token:
            d.find_element(By.ID, "token").send_keys(token)
        else:
            d.find_element(By.ID, "user").send_keys(user)
            d.find_element(By.ID, "password").send_keys(PASSWORD)
        d.find_element(By.ID, "signin").click()

    def test_2_sign_in_overview_devices_and_sign_out(self):
        d = self.browser()
        self.sign_in(user="alice")
        self.text_appears("Overview of default")
        self.text_appears("No devices yet")
        cookie = d.get_cookie("rumd_session")
        self.assertTrue(cookie and cookie["httpOnly"], cookie)
        self.assertEqual(cookie.get("sameSite"), "Strict")
        self.assertIsNone(d.execute_script("return document.cookie.match(/rumd_session/)"),
                          "scripts cannot read the session cookie")
        # A device that pushes (rum-agent) shows up, with its state.
        serial = "FOCWEBSW001"
        self.agent_sync(self.agent_device("C9300-24P", serial, "console-sw1"))
        t0 = time.monotonic()
        d.get(self.base + "/#/devices")
        self.text_appears("console-sw1")
        self.appeared_s = time.monotonic() - t0
        row = d.find_element(By.CSS_SELECTOR, "#devices tbody tr")
        self.assertIn("OK", row.text)  # its first report is due 90 days on
        # Made overdue, it shows as overdue on the overview and in its filter.
        did = int(self.pg.scalar("SELECT id FROM devices WHERE hostname = 'console-sw1'",
                                 db=self.db))
        self.pg.psql("UPDATE device_inventory SET first_report_at = now() - interval '91 days' "
                     "WHERE device_id = %d" % did, db=self.db)
        d.get(self.base + "/#/overview")
        self.text_appears("Needs attention: 1 overdue device")
        d.find_element(By.PARTIAL_LINK_TEXT, "Overdue").click()
        self.text_appears("console-sw1")
        self.assertIn("Overdue", d.find_element(By.CSS_SELECTOR, "#devices tbody tr").text)
        # Its page, its report.
        d.find_element(By.LINK_TEXT, "console-sw1").click()
        self.text_appears("not exported yet")  # its report on the timeline
        self.assertIn("C9300-24P / " + serial, d.find_element(By.TAG_NAME, "body").text)
        # One report, byte-exact as the device sent it.
        d.find_element(By.CSS_SELECTOR, "#timeline li.report a").click()
        self.text_appears("As the device sent it")
        self.assertIn(serial, d.find_element(By.ID, "raw").text)
        self.assertEqual(self.console_errors(), [])
        # Signing out ends the session on the server, not only in the page.
        d.find_element(By.ID, "signout").click()
        self.text_appears("Signed out.")
        reply = self.rumd.get("/api/v1/session",
                              {"Cookie": "rumd_session=" + cookie["value"]})
        self.assertEqual(reply.status, 401)
        self.assertEqual(self.console_errors(), [])

    def test_3_tenant_binding_and_token_sign_in(self):
        d = self.browser()
        self.sign_in(user="rita")
        self.text_appears("Overview of other")
        did = self.pg.scalar("SELECT id FROM devices ORDER BY id LIMIT 1", db=self.db)
        if did:
            d.get(self.base + "/#/device/%s" % did)
            self.text_appears("no device")
        d.find_element(By.ID, "signout").click()
        self.text_appears("Signed out.")
        self.sign_in(token=self.token)
        self.text_appears("Overview of default")
        self.assertIn("reader", d.find_element(By.ID, "who").text)
        d.find_element(By.ID, "signout").click()
        self.text_appears("Signed out.")
        errors = [e for e in self.console_errors() if "/api/v1/tenants/other/devices/" not in
                  e["message"]]
        self.assertEqual(errors, [])

    def test_4_alerts_acknowledged_by_those_who_may(self):
        """A reader sees alerts without an Acknowledge button (and the server
        refuses one anyway); an admin acknowledges from the page, through the
        session's CSRF token, and the audit log names the user."""
        d = self.browser()
        dev = rt.Device("C9500-48Y4C", hostname="console-silent")
        self.assertEqual(self.rumd.post(rt.pi_path("default"), dev.usage([dev.report()])).status,
                         200)
        self.pg.psql("UPDATE devices SET last_contact = now() - interval '40 days' "
                     "WHERE hostname = 'console-silent'", db=self.db)
        proc = rt.run_rumd(["alert", "list", "--database_url=%s" % self.url])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.sign_in(token=self.token)
        self.text_appears("Overview of default")
        d.find_element(By.PARTIAL_LINK_TEXT, "Open alerts").click()
        self.text_appears("device silent")
        self.assertEqual(d.find_elements(By.CSS_SELECTOR, "button.ack"), [],
                         "a reader is offered no Acknowledge button")
        d.find_element(By.ID, "signout").click()
        self.text_appears("Signed out.")
        self.sign_in(user="alice")
        self.text_appears("Overview of default")
        d.get(self.base + "/#/alerts")
        self.text_appears("device silent")
        row = [r for r in d.find_elements(By.CSS_SELECTOR, "#alerts tbody tr")
               if "device silent" in r.text][0]
        row.find_element(By.CSS_SELECTOR, "button.ack").click()
        self.text_appears("acknowledged.")
        d.get(self.base + "/#/alerts?state=all")
        self.text_appears("acknowledged by user alice")
        actor = self.pg.scalar("SELECT actor FROM audit_log WHERE action = 'alert-ack' "
                               "ORDER BY id DESC LIMIT 1", db=self.db)
        self.assertRegex(actor, r"^user alice \(session \d+\)$")
        d.find_element(By.ID, "signout").click()
        self.text_appears("Signed out.")
        self.assertEqual(self.console_errors(), [])

    def agent_device(self, pid, serial, hostname):
        """A rum-agent device of the default tenant; returns its state dir."""
        if not os.path.exists(AGENT):
            self.skipTest("no rum-agent binary: set RUM_BUILD_DIR (ctest does)")
        state = rt.make_tempdir("rumtest-agent-", 0o755)
        os.rmdir(state)
        subprocess.run([AGENT, "init", "--state", state, "--pid", pid, "--serial", serial,
                        "--hostname", hostname, "--entitlement", "%s=3" % TAG],
                       check=True, capture_output=True)
        return state

    def agent_sync(self, state):
        """One `rum-agent sync` to the class's rumd: sends what is unreported
        and polls once; the agent's log."""
        proc = subprocess.run([AGENT, "sync", "--state", state, "--url",
                               self.base + "/cslu/v1/pi/default", "--max-polls", "1",
                               "--poll-interval", "0.05"], capture_output=True, text=True,
                              timeout=60)
        self.assertIn(proc.returncode, (0, 3), proc.stderr)
        return proc.stdout + proc.stderr

    def downloaded(self, pattern, timeout=30):
        """The one finished download matching pattern (Chromium writes
        .crdownload files until done)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [f for f in glob.glob(os.path.join(self.downloads, pattern))
                     if not f.endswith(".crdownload")]
            if found:
                return found[0]
            time.sleep(0.2)
        self.fail("no download matching %s in %s: %s" % (pattern, self.downloads,
                                                          os.listdir(self.downloads)))

    def test_5_air_gap_export_and_ack_from_the_page(self):
        """An operator downloads usage for Cisco, the CSSM simulator answers
        it, the answer is uploaded from the page, and the batch and the
        device show Cisco's ACK; a reader is offered neither step."""
        d = self.browser()
        serial = "FOCWEBAIR01"
        device = self.agent_device("C9300-48P", serial, "console-airgap")
        self.agent_sync(device)
        self.sign_in(token=self.token)
        self.text_appears("Overview of default")
        d.get(self.base + "/#/airgap")
        self.text_appears("Exporting usage and uploading Cisco's answer need an operator")
        self.assertEqual(d.find_elements(By.ID, "export"), [], "a reader cannot export")
        self.assertEqual(d.find_elements(By.ID, "ack-file"), [], "nor upload an ACK")
        d.find_element(By.ID, "signout").click()
        self.text_appears("Signed out.")
        self.sign_in(user="alice")
        self.text_appears("Overview of default")
        d.get(self.base + "/#/airgap")
        self.wait_for(EC.element_to_be_clickable((By.ID, "export")), "the export button")
        d.find_element(By.ID, "export").click()
        self.text_appears("upload it to Cisco Smart Software Manager")
        export = self.downloaded("UD_SA_*.tar.gz")
        self.text_appears("Waiting for Cisco's ACK")
        acks = rt.make_tempdir("rumtest-acks-")
        sim = subprocess.run([sys.executable, CSSM_SIM, "ack", export, "-o", acks],
                             capture_output=True, text=True, timeout=300)
        self.assertEqual(sim.returncode, 0, sim.stderr)
        ack = os.path.join(acks, "ACK_" + os.path.basename(export))
        d.find_element(By.ID, "ack-file").send_keys(ack)
        self.text_appears("Imported:")
        table = d.find_element(By.ID, "import-applied").text
        self.assertIn(serial, table)
        self.text_appears("Acknowledged")
        batch = d.find_element(By.CSS_SELECTOR, "#exports tbody tr").text
        self.assertIn("Acknowledged", batch)
        # A file that is not CSSM's answer is refused with its reason.
        bad = os.path.join(acks, "not-an-ack.xml")
        with open(bad, "w") as f:
            f.write("<nope/>")
        d.find_element(By.ID, "ack-file").send_keys(bad)
        self.text_appears("not-an-ack.xml was refused")
        # Dropped on the drop zone, a file goes the same way.
        d.execute_script(
            "const t = new DataTransfer();"
            "t.items.add(new File(['<nope/>'], 'dropped.xml', {type: 'text/xml'}));"
            "document.querySelector('.drop').dispatchEvent("
            "new DragEvent('drop', {dataTransfer: t, bubbles: true, cancelable: true}));")
        self.text_appears("dropped.xml was refused")
        # The device's page shows the ACK waiting for the device.
        did = int(self.pg.scalar("SELECT id FROM devices WHERE hostname = 'console-airgap'",
                                 db=self.db))
        d.get(self.base + "/#/device/%d" % did)
        self.text_appears("not delivered yet")
        # The device's next contact takes its ACK: the page says so.
        self.assertIn("installed", self.agent_sync(device))
        # "not delivered yet" holds "delivered " too: wait for the page,
        # opened again, to say delivered and no longer not.
        def delivered(drv):
            drv.get(self.base + "/#/overview")
            drv.get(self.base + "/#/device/%d" % did)
            try:
                WebDriverWait(drv, 5).until(
                    lambda x: "Last ACK" in x.find_element(By.TAG_NAME, "body").text)
            except TimeoutException:
                return False
            body = drv.find_element(By.TAG_NAME, "body").text
            return "delivered " in body and "not delivered yet" not in body
        self.wait_for(delivered, "the ACK shown as delivered", 30)
        self.assertIn("acknowledged by Cisco", d.find_element(By.ID, "timeline").text)
        d.find_element(By.ID, "signout").click()
        self.text_appears("Signed out.")
        errors = [e for e in self.console_errors() if "/imports" not in e["message"]]
        self.assertEqual(errors, [])

    def test_6_pull_target_added_and_collected_from_the_page(self):
        """An admin adds a rum-agent device reached over NETCONF/SSH as a pull
        target (key sign-in, host key learnt once), collects now and sees
        the outcome and the device it found."""
        d = self.browser()
        state = self.agent_device("C9300-48P", "FOCWEB0001", "console-pulled")
        sshd = sshdtest.Sshd({"netconf": "%s netconf --state %s" % (AGENT, state)},
                             bootflash_dir=os.path.join(state, "bootflash"))
        sshd.__enter__()
        self.addCleanup(sshd.__exit__, None, None, None)
        with open(sshd.user_key) as f:
            key = f.read()
        self.sign_in(user="alice")
        self.text_appears("Overview of default")
        d.get(self.base + "/#/targets")
        self.text_appears("No pull target yet")
        d.find_element(By.ID, "host").send_keys("127.0.0.1")
        wrong = sshdtest.free_port()  # nothing listens there: fixed below
        d.find_element(By.ID, "port").send_keys(str(wrong))
        d.find_element(By.ID, "username").send_keys(sshd.user)
        d.find_element(By.CSS_SELECTOR, "#auth option[value=key]").click()
        d.find_element(By.ID, "key").send_keys(key)
        d.find_element(By.ID, "add-target").click()
        self.text_appears("Pull target 127.0.0.1")
        self.text_appears("Not collected yet.")
        d.find_element(By.CSS_SELECTOR, "button.collect").click()
        self.text_appears("Failed: ", timeout=90)
        # Edited to the right port: the stored key is sealed again for it.
        d.find_element(By.ID, "edit-target-button").click()
        port = d.find_element(By.ID, "edit-port")
        port.clear()
        port.send_keys(str(sshd.port))
        d.find_element(By.ID, "save-target").click()
        self.text_appears("saved.")
        self.text_appears("127.0.0.1:%d" % sshd.port)
        d.find_element(By.CSS_SELECTOR, "button.collect").click()
        self.text_appears("Collected ", timeout=90)
        self.assertIn("ok", d.find_element(By.ID, "collections").text)
        d.get(self.base + "/#/targets")
        self.text_appears("C9300-48P / FOCWEB0001")
        d.get(self.base + "/#/devices?q=FOCWEB0001")
        self.text_appears("console-pulled")
        d.find_element(By.LINK_TEXT, "console-pulled").click()
        self.text_appears("Collected by 127.0.0.1:%d" % sshd.port)
        d.find_element(By.CSS_SELECTOR, "button.collect").click()
        self.wait_for(lambda d: len(d.find_elements(By.CSS_SELECTOR, "section.step li")) >= 2,
                      "the second collection on the device page", 90)
        self.assertEqual(self.console_errors(), [])
        d.find_element(By.ID, "signout").click()
        self.text_appears("Signed out.")

    def test_7_tokens_shown_once_and_admin_pages_by_role(self):
        d = self.browser()
        self.sign_in(user="alice")
        self.text_appears("Overview of default")
        d.get(self.base + "/#/admin")
        self.text_appears("API tokens")
        d.find_element(By.ID, "token-description").send_keys("console test script")
        d.find_element(By.ID, "create-token").click()
        self.text_appears("shown this once")
        token = d.find_element(By.CSS_SELECTOR, "#token-secret code").text
        self.assertEqual(self.rumd.get("/api/v1/session",
                                       {"Authorization": "Bearer " + token}).status, 200)
        d.get(self.base + "/#/overview")
        d.get(self.base + "/#/admin")
        self.text_appears("console test script")
        self.assertNotIn(token, d.find_element(By.TAG_NAME, "body").text,
                         "a token's secret is never shown again")
        self.text_appears("token-create")  # the audit log
        # A console user added from the page signs in with that password.
        d.find_element(By.ID, "user-name").send_keys("walt")
        d.find_element(By.ID, "user-password").send_keys(PASSWORD)
        d.find_element(By.CSS_SELECTOR, "#user-role option[value=operator]").click()
        d.find_element(By.ID, "add-user").click()
        self.text_appears("User walt added")
        self.assertIn("operator", d.find_element(By.CSS_SELECTOR, "tr[data-user=walt]").text)
        d.find_element(By.ID, "signout").click()
        self.text_appears("Signed out.")
        self.sign_in(user="walt")
        self.text_appears("Overview of default")
        self.assertIn("walt", d.find_element(By.ID, "who").text)
        d.find_element(By.ID, "signout").click()
        self.text_appears("Signed out.")
        self.sign_in(token=self.token)
        self.text_appears("Overview of default")
        d.get(self.base + "/#/admin")
        self.text_appears("Audit log")
        self.assertEqual(d.find_elements(By.ID, "create-token"), [])
        self.assertEqual(d.find_elements(By.ID, "add-tenant"), [])
        d.get(self.base + "/#/targets")
        self.text_appears("Pull targets of default")
        self.assertEqual(d.find_elements(By.ID, "add-target"), [])
        self.assertEqual(self.console_errors(), [])
        d.find_element(By.ID, "signout").click()
        self.text_appears("Signed out.")

    def test_8_usage_chart_by_days_weeks_and_months(self):
        d = self.browser()
        dev = rt.Device("C9300-24T", hostname="console-usage")
        now = int(time.time())
        self.assertEqual(self.rumd.post(rt.pi_path("default"), dev.usage(
            [dev.report(start=now - 3600, end=now, value="7")])).status, 200)

        def counted():
            reply = self.rumd.get("/api/v1/tenants/default/usage",
                                  {"Authorization": "Bearer " + self.token})
            return reply.status == 200 and json.loads(reply.raw)["entitlements"]
        rt.wait_for(counted, timeout=30, what="the usage counted by the upkeep")
        self.sign_in(token=self.token)
        self.text_appears("Licence usage")
        self.wait_for(lambda d: d.find_elements(By.CSS_SELECTOR, "#usage-chart canvas"),
                      "the usage chart drawn")
        self.assertIn("per day", d.execute_script(
            "return document.getElementById('usage-chart').textContent"))
        rows = d.find_elements(By.CSS_SELECTOR, "#usage-table tbody tr")
        self.assertGreaterEqual(len(rows), 1)
        for label, unit in (("Weeks", "per week"), ("Months", "per month")):
            d.find_element(By.XPATH, "//section[@id='usage']//button[text()='%s']" % label).click()
            self.wait_for(lambda d: unit in d.execute_script(
                "const c = document.getElementById('usage-chart'); "
                "return c ? c.textContent : ''"), "the chart %s" % unit)
            self.assertTrue(d.find_elements(By.CSS_SELECTOR, "#usage-chart canvas"))
        self.assertEqual(self.console_errors(), [])
        d.find_element(By.ID, "signout").click()
        self.text_appears("Signed out.")

    def test_9_over_https_the_session_cookie_is_secure(self):
        if not shutil.which("openssl"):
            self.skipTest("openssl not installed")
        from test_https import make_certificate
        d = self.browser()
        cert, key = make_certificate(rt.make_tempdir("rumtest-tls-"))
        r = self.start_rumd(database_url=self.url, flags={
            "https_listen": "127.0.0.1:0", "tls_cert": cert, "tls_key": key})
        base = "https://127.0.0.1:%d" % r.ports["https"]
        d.execute_cdp_cmd("Network.clearBrowserCookies", {})
        d.get(base + "/")
        self.wait_for(EC.element_to_be_clickable((By.ID, "signin")), "the sign-in form")
        d.find_element(By.ID, "user").send_keys("alice")
        d.find_element(By.ID, "password").send_keys(PASSWORD)
        d.find_element(By.ID, "signin").click()
        self.text_appears("Overview of default")
        cookie = d.get_cookie("rumd_session")
        self.assertTrue(cookie and cookie["secure"] and cookie["httpOnly"], cookie)
        self.assertEqual(cookie.get("sameSite"), "Strict")
        d.get(base + "/#/devices")
        self.text_appears("Devices of default")
        self.assertEqual(self.console_errors(), [])
        d.find_element(By.ID, "signout").click()
        self.text_appears("Signed out.")


if __name__ == "__main__":
    rt.main()
