#!/usr/bin/env python3
"""pkcs11/pcsc_monitor against a real pcscd (tests/lib/pcsc.py), through
tests/tools/pcsc_monitor_cli, which prints one event per line.

  - card inserted -> CARD_INSERTED within 2 s; removed -> CARD_REMOVED
    within 2 s, several times over; a card already in at start is
    reported after its reader;
  - a quick out-and-in -> CARD_REMOVED then CARD_INSERTED;
  - pcscd killed -> the card and readers removed, SERVICE_LOST; pcscd
    restarted -> SERVICE_BACK, the readers, then the card again;
  - pcscd absent at start -> SERVICE_LOST, no crash; SERVICE_BACK and the
    readers once it starts;
  - the monitor stops promptly (well under its 1 s wait) every time.
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "lib"))
import pcsc  # noqa: E402
from agent import build_dir  # noqa: E402

pcsc.enter_namespace()

DEADLINE_S = 2.0
NO_SERVICE = "SERVICE_LOST 0x8010001d"  # SCARD_E_NO_SERVICE


class Monitor(pcsc.LineProcess):
    def __init__(self, directory):
        cli = os.path.join(build_dir(), "bin", "pcsc_monitor_cli")
        super().__init__([cli], os.path.join(directory, "monitor.log"))
        self.expect("started", timeout=5)

    def events(self, n, timeout):
        """The next n lines, each due within timeout of the previous."""
        return [self.expect(lambda s: True, timeout=timeout)[1]
                for _ in range(n)]

    def stop(self):
        """quit; returns the time stop took (ms) as the CLI measured it."""
        self.send("quit")
        _, line = self.expect(lambda s: s.startswith("stopped "), timeout=5)
        rc = self.close(quit_line=None)
        assert rc == 0, "pcsc_monitor_cli exited %r:\n%s" % (rc, self.log())
        return int(line.split()[1])


class MonitorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rig = pcsc.PcscRig()
        cls.r0 = cls.rig.reader
        cls.r1 = cls.rig.other_reader

    @classmethod
    def tearDownClass(cls):
        cls.rig.close()

    def setUp(self):
        if not self.rig.pcscd_running():
            self.rig.start_pcscd()
        self.rig.remove()
        self.mon = None

    def tearDown(self):
        if self.mon is not None:
            self.mon.close()

    def start_monitor(self):
        self.mon = Monitor(self.rig.dir)
        return self.mon

    def stop_monitor(self):
        ms = self.mon.stop()
        self.mon = None
        # Stop interrupts the wait in pcscd (SCardCancel) or a back-off.
        self.assertLess(ms, 500)

    def expect_quiet(self, seconds):
        extra = self.mon.drain(wait=seconds)
        self.assertEqual(extra, [], "unexpected events")

    def timed_event(self, action, want):
        """Runs action (which returns once the bridge has acted) and
        returns the seconds until the monitor prints want."""
        action()
        t0 = time.monotonic()
        t, _ = self.mon.expect(want, timeout=DEADLINE_S + 3)
        return t - t0

    def test_insert_remove(self):
        mon = self.start_monitor()
        self.assertEqual(mon.events(2, DEADLINE_S),
                         ["READER_ADDED " + self.r0, "READER_ADDED " + self.r1])
        self.expect_quiet(0.5)
        for i in range(3):
            secs = self.timed_event(lambda: self.rig.insert(wait=False),
                                    "CARD_INSERTED " + self.r0)
            print("\ncycle %d: CARD_INSERTED after %.2f s" % (i, secs),
                  end="")
            self.assertLess(secs, DEADLINE_S)
            self.expect_quiet(0.3)
            secs = self.timed_event(lambda: self.rig.remove(wait=False),
                                    "CARD_REMOVED " + self.r0)
            print(", CARD_REMOVED after %.2f s" % secs, end="")
            self.assertLess(secs, DEADLINE_S)
            self.expect_quiet(0.3)
        print()
        self.stop_monitor()

    def test_card_present_at_start(self):
        self.rig.insert()
        mon = self.start_monitor()
        self.assertEqual(mon.events(3, DEADLINE_S),
                         ["READER_ADDED " + self.r0, "READER_ADDED " + self.r1,
                          "CARD_INSERTED " + self.r0])
        self.expect_quiet(0.5)
        self.stop_monitor()

    def test_quick_out_and_in(self):
        self.rig.insert()
        mon = self.start_monitor()
        mon.events(3, DEADLINE_S)
        # Out and back in faster than pcscd polls (400 ms): the monitor
        # still reports both, so a token session on it is known stale.
        self.rig.remove(wait=False)
        self.rig.insert(wait=False)
        self.assertEqual(mon.events(2, DEADLINE_S),
                         ["CARD_REMOVED " + self.r0,
                          "CARD_INSERTED " + self.r0])
        self.expect_quiet(0.5)
        self.stop_monitor()

    def test_pcscd_killed_and_restarted(self):
        self.rig.insert()
        mon = self.start_monitor()
        mon.events(3, DEADLINE_S)

        t0 = time.monotonic()
        self.rig.kill_pcscd()
        got = mon.events(4, DEADLINE_S)
        print("\npcscd killed: SERVICE_LOST after %.2f s"
              % (time.monotonic() - t0))
        self.assertEqual(got[:3], ["CARD_REMOVED " + self.r0,
                                   "READER_REMOVED " + self.r0,
                                   "READER_REMOVED " + self.r1])
        # SCARD_F_COMM_ERROR from the wait that pcscd's death broke; any
        # PC/SC code will do, the monitor only reports it.
        self.assertRegex(got[3], r"^SERVICE_LOST 0x8010[0-9a-f]{4}$")
        # The monitor retries (back-off to 1 s) without more events.
        self.expect_quiet(1.5)

        t0 = time.monotonic()
        self.rig.start_pcscd(wait=False)
        got = mon.events(4, DEADLINE_S + 1)
        print("pcscd restarted: card seen again after %.2f s"
              % (time.monotonic() - t0))
        self.assertEqual(got, ["SERVICE_BACK", "READER_ADDED " + self.r0,
                               "READER_ADDED " + self.r1,
                               "CARD_INSERTED " + self.r0])
        self.expect_quiet(0.5)

        # A clean pcscd stop (SIGTERM) is a loss too.
        self.rig.stop_pcscd()
        got = mon.events(4, DEADLINE_S)
        self.assertEqual(got[:3], ["CARD_REMOVED " + self.r0,
                                   "READER_REMOVED " + self.r0,
                                   "READER_REMOVED " + self.r1])
        self.assertTrue(got[3].startswith("SERVICE_LOST "), got)
        self.stop_monitor()

    def test_pcscd_absent_at_start(self):
        self.rig.stop_pcscd()
        mon = self.start_monitor()
        self.assertEqual(mon.events(1, DEADLINE_S), [NO_SERVICE])
        self.expect_quiet(1.5)
        self.assertIsNone(mon.proc.poll())

        t0 = time.monotonic()
        self.rig.start_pcscd(wait=False)
        self.assertEqual(mon.events(3, DEADLINE_S + 1),
                         ["SERVICE_BACK", "READER_ADDED " + self.r0,
                          "READER_ADDED " + self.r1])
        print("\npcscd started: SERVICE_BACK and readers after %.2f s"
              % (time.monotonic() - t0))
        self.expect_quiet(0.3)
        secs = self.timed_event(lambda: self.rig.insert(wait=False),
                                "CARD_INSERTED " + self.r0)
        self.assertLess(secs, DEADLINE_S)
        self.stop_monitor()

    def test_stop_while_pcscd_absent(self):
        self.rig.stop_pcscd()
        mon = self.start_monitor()
        mon.expect(NO_SERVICE, timeout=DEADLINE_S)
        time.sleep(0.7)  # somewhere in a back-off
        self.stop_monitor()


if __name__ == "__main__":
    unittest.main(verbosity=2)
