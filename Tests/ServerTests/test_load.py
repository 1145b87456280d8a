"""The short version of the load test (scripts/load-test): 16 concurrent clients for 20 seconds of
mixed chat behind long shared system prompts, JSON-schema and json_object answers, tool calls, streamed
and whole;
no error but documented 503s, every finished answer valid, RSS within the bound of its caches.

    python3 Tests/ServerTests/test_load.py .build/release/ember
"""
import json
import os
import subprocess
import sys
import unittest

EMBER = sys.argv.pop(1) if len(sys.argv) > 1 else ".build/release/ember"
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "load-test")


class Load(unittest.TestCase):
    def test_sixteen_clients_for_twenty_seconds(self):
        run = subprocess.run([sys.executable, SCRIPT, "--clients", "16", "--seconds", "20", "--ember", EMBER],
                             capture_output=True, text=True)
        result = json.loads(run.stdout)
        self.assertTrue(result["passed"], json.dumps(result, indent=2) + run.stderr[-2000:])
        # Answers take 10 to 30 s each here (4 slots shared by 16 clients on 2 cores): at least half
        # of the clients must have finished one.
        self.assertGreaterEqual(result["counts"]["ok"], 8)


if __name__ == "__main__":
    unittest.main(verbosity=2)
