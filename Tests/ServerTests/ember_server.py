"""An `ember serve` process on a free loopback port, for the server tests: its URL, an `openai` client,
its Prometheus metrics, and a clean stop."""
import re
import subprocess
import urllib.request

import openai


class Server:
    def __init__(self, ember, *arguments, key="none"):
        self.key = key
        self.process = subprocess.Popen([ember, "serve", "--port", "0", *arguments], stderr=subprocess.PIPE, text=True)
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

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)
        self.process.stderr.close()
