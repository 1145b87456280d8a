"""Two `ember serve` replicas behind nginx (loopback only), as README "Scaling out" describes: the
replicas are put behind the balancer only once `/health` answers (readiness), requests are spread
over both, streaming passes through unbuffered, and when one replica stops the other takes its
requests.

    python3 Tests/ServerTests/test_scaling.py .build/release/ember

Needs nginx (`apt-get install nginx`); as root on a machine with apt and no nginx, it installs it.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

EMBER = sys.argv.pop(1) if len(sys.argv) > 1 else ".build/release/ember"


def find_nginx():
    for candidate in (shutil.which("nginx"), "/usr/sbin/nginx"):
        if candidate and os.path.exists(candidate):
            return candidate
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run("apt-get update -qq && apt-get install -y -qq --no-install-recommends nginx-light", shell=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if os.path.exists("/usr/sbin/nginx"):
            return "/usr/sbin/nginx"
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read().decode()


def wait_healthy(url, deadline=60):
    end = time.time() + deadline
    while time.time() < end:
        try:
            if get(url + "/health", timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} never became ready")


NGINX = find_nginx()


@unittest.skipIf(NGINX is None, "nginx is not installed (apt-get install nginx)")
class TwoReplicasBehindNginx(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.directory = tempfile.mkdtemp(prefix="ember-nginx-")
        cls.replicas = []
        for _ in range(2):
            port = free_port()
            process = subprocess.Popen([EMBER, "serve", "--port", str(port), "--parallel", "2", "-c", "512", "-t", "1"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            cls.replicas.append((process, f"http://127.0.0.1:{port}"))
        for _, url in cls.replicas:
            wait_healthy(url)  # readiness: only ready replicas go behind the balancer
        cls.port = free_port()
        upstreams = "\n".join(f"        server {url[7:]} max_fails=1 fail_timeout=5s;" for _, url in cls.replicas)
        config = f"""
daemon off;
pid {cls.directory}/nginx.pid;
error_log {cls.directory}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {cls.directory}/body;
    proxy_temp_path {cls.directory}/proxy;
    fastcgi_temp_path {cls.directory}/fastcgi;
    uwsgi_temp_path {cls.directory}/uwsgi;
    scgi_temp_path {cls.directory}/scgi;
    upstream ember {{
{upstreams}
    }}
    server {{
        listen 127.0.0.1:{cls.port};
        location / {{
            proxy_pass http://ember;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_read_timeout 600s;
            proxy_next_upstream error timeout http_502 http_503;
        }}
    }}
}}
"""
        with open(os.path.join(cls.directory, "nginx.conf"), "w") as file:
            file.write(config)
        cls.nginx = subprocess.Popen([NGINX, "-p", cls.directory, "-c", os.path.join(cls.directory, "nginx.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_healthy(f"http://127.0.0.1:{cls.port}")

    @classmethod
    def tearDownClass(cls):
        cls.nginx.terminate()
        cls.nginx.wait(timeout=10)
        for process, _ in cls.replicas:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
        shutil.rmtree(cls.directory, ignore_errors=True)

    def complete(self, prompt, stream=False):
        body = json.dumps({"prompt": prompt, "max_tokens": 4, "temperature": 0, "stream": stream}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/v1/completions", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read().decode()

    @staticmethod
    def served(url):
        text = get(url + "/metrics")[1]
        match = re.search(r'ember_requests_total\{route="/v1/completions",status="200"\} (\d+)', text)
        return int(match.group(1)) if match else 0

    def test_1_requests_are_spread_over_both_replicas(self):
        for index in range(8):
            status, body = self.complete(f"The capital of France is")
            self.assertEqual(status, 200)
            self.assertTrue(json.loads(body)["choices"][0]["text"].startswith(" Paris"))
        self.assertTrue(all(self.served(url) > 0 for _, url in self.replicas))

    def test_2_streaming_passes_through(self):
        status, body = self.complete("The capital of France is", stream=True)
        self.assertEqual(status, 200)
        self.assertTrue(body.rstrip().endswith("data: [DONE]"))
        self.assertIn(" Paris", "".join(json.loads(line[6:])["choices"][0]["text"]
                                        for line in body.splitlines() if line.startswith("data: {")))

    def test_3_a_stopped_replica_is_routed_around(self):
        process, _ = self.replicas[0]
        process.terminate()
        process.wait(timeout=30)
        for _ in range(4):
            self.assertEqual(self.complete("The capital of France is")[0], 200)


if __name__ == "__main__":
    unittest.main(verbosity=2)
