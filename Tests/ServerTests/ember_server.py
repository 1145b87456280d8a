"""An `ember serve` process on a free loopback port, for the server tests: its URL, an `openai` client,
its Prometheus metrics, a wait for its slots to be free, and a clean stop."""
import os
import re
import subprocess
import time
import urllib.request

import openai


class Server:
    def __init__(self, ember, *arguments, key="none", env=None):
        """`env`: variables to set for the server on top of this process's environment (EMBER_HOME...)."""
        self.key = key
        self.process = subprocess.Popen([ember, "serve", "--port", "0", *arguments], stderr=subprocess.PIPE, text=True,
                                        env={**os.environ, **env} if env else None)
        line = self.process.stderr.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        if not match:
            self.process.kill()
            raise RuntimeError(f"ember serve did not start: {line}{self.process.stderr.read()}")
        self.url = f"http://127.0.0.1:{match.group(1)}"

    def client(self, key=None, **options):
        return openai.OpenAI(base_url=self.url + "/v1", api_key=key or self.key, max_retries=0, **options)

    def metric(self, name):
        text = urllib.request.urlopen(self.url + "/metrics").read().decode()
        return float(re.search(rf"^{name} (\S+)$", text, re.M).group(1))

    def wait_idle(self, seconds=5):
        """Waits (at most `seconds`) until no request is generating; how many still are."""
        deadline = time.time() + seconds
        while self.metric("ember_active_sequences") > 0 and time.time() < deadline:
            time.sleep(0.05)
        return self.metric("ember_active_sequences")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)
        self.process.stderr.close()
