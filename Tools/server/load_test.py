#!/usr/bin/env python3
"""Load and fault test of `pairrm serve` on loopback (standard library only, bounded in time).

    python3 Tools/server/load_test.py --binary .build/release/pairrm --model MODEL.prm \
        --pairs PAIRS.jsonl [--workers 2 --threads 1 --queue-limit 64 --levels 1,8,64 \
        --overload-clients 160 --seconds 30 --soak-minutes 10 --json report.json]

What it measures, in one run on one host:
  1. the library's batch throughput: `pairrm compare` over the pairs with --batch-size WORKERS
     (WORKERS inference contexts at once, as the server's workers) and the same --threads, net
     of start-up (a run over an empty input is subtracted);
  2. the server at each concurrency level (clients each sending one pair per POST /v1/compare,
     keep-alive): pairs/s, its ratio to (1), p50/p99 latency of answered requests, errors
     (none expected), then an overload level above workers + queue limit (429s expected,
     nothing else);
  3. a soak at the middle level: RSS of the server sampled every 10 s (flat = the last third's
     mean within 5% of the first third's);
  4. faults: clients that disconnect mid-request, an oversized body (413), a slow body (408),
     malformed JSON (400), then SIGTERM under load (requests in flight answered 200, exit 0).
PAIRS.jsonl lines hold "prompt" (or "source"), "a" and "b". Prints a report; exits 1 when a
check fails (errors below saturation, a fault not handled, RSS growth, a bad exit).
"""
import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time


def read_pairs(path, limit):
    pairs = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            row = json.loads(line)
            pairs.append({"prompt": row.get("prompt", row.get("source", "")), "a": row["a"], "b": row["b"]})
            if len(pairs) >= limit:
                break
    if not pairs:
        sys.exit("load_test.py: no pairs in %s" % path)
    return pairs


def library_throughput(args, pairs):
    """Pairs/s of `pairrm compare` over the pairs (the library's batch path, same parallelism),
    net of start-up: a run over an empty input (load and checksum the model) is subtracted."""
    path = os.path.join(args.scratch, "library-pairs.jsonl")
    empty = os.path.join(args.scratch, "library-empty.jsonl")
    with open(path, "w", encoding="utf-8") as handle:
        for pair in pairs:
            handle.write(json.dumps(pair) + "\n")
    open(empty, "w").close()

    def timed(input_path):
        started = time.monotonic()
        subprocess.run([args.binary, "compare", "--model", args.model, "--input", input_path,
                        "--threads", str(args.threads), "--batch-size", str(args.workers)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.monotonic() - started
    startup = min(timed(empty), timed(empty))
    return len(pairs) / (timed(path) - startup)


class Server:
    def __init__(self, args, extra=()):
        self.log = open(os.path.join(args.scratch, "serve-%d.log" % time.time_ns()), "w+", encoding="utf-8")
        command = [args.binary, "serve", "--model", args.model, "--port", "0", "--workers", str(args.workers),
                   "--threads", str(args.threads), "--queue-limit", str(args.queue_limit), "--log-level", "warning",
                   "--body-timeout", "2", "--request-timeout", str(args.request_timeout), *extra]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=self.log)
        self.port = None
        deadline = time.monotonic() + 300
        while self.port is None and time.monotonic() < deadline and self.process.poll() is None:
            self.log.seek(0)
            for line in self.log.read().splitlines():
                if "listening on http://127.0.0.1:" in line:
                    self.port = int(line.rsplit(":", 1)[1])
            time.sleep(0.05)
        if self.port is None:
            self.stop()
            sys.exit("load_test.py: the server did not start")
        while time.monotonic() < deadline:
            try:
                if request(self.port, "GET", "/health")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        sys.exit("load_test.py: the model did not load")

    def rss_kib(self):
        with open("/proc/%d/status" % self.process.pid) as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def request(port, method, path, body=None, connection=None, timeout=300):
    own = connection is None
    connection = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        if own:
            connection.close()


def run_level(port, pairs, clients, seconds):
    """`clients` threads posting one pair at a time for `seconds`; latencies of 200s, status counts."""
    stop_at = time.monotonic() + seconds
    latencies, statuses, lock = [], {}, threading.Lock()

    def client(offset):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        index = offset
        while time.monotonic() < stop_at:
            body = json.dumps(pairs[index % len(pairs)])
            index += clients
            began = time.monotonic()
            retry_after = 0.0
            try:
                connection.request("POST", "/v1/compare", body=body, headers={"Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
                status, retry_after = response.status, float(response.getheader("Retry-After") or 0)
            except (OSError, http.client.HTTPException):
                status = "connection error"
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            elapsed = time.monotonic() - began
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                if status == 200:
                    latencies.append(elapsed)
            if status == 429:
                time.sleep(retry_after or 1)  # a well-behaved client honours Retry-After
        connection.close()

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    latencies.sort()

    def quantile(q):
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")
    return {"clients": clients, "seconds": round(elapsed, 1), "answered": len(latencies),
            "pairs_per_s": len(latencies) / elapsed, "p50_s": quantile(0.50), "p99_s": quantile(0.99),
            "statuses": {str(k): v for k, v in sorted(statuses.items(), key=lambda kv: str(kv[0]))}}


def raw(port, data, read=True, timeout=30):
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        sock.sendall(data)
        if not read:
            return None
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
        reply = b"".join(chunks)
        return int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/") else None
    finally:
        sock.close()


def head(path, length):
    return ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\n\r\n" % (path, length)).encode()


def faults(args, pairs):
    checks = {}
    server = Server(args, ["--max-body-bytes", "65536"])
    try:
        port = server.port
        heavy = json.dumps([pairs[k % len(pairs)] for k in range(8)]).encode()
        for _ in range(20):  # disconnect mid-request
            raw(port, head("/v1/compare", len(heavy)) + heavy, read=False)
        time.sleep(1)
        checks["healthy after 20 vanished clients"] = request(port, "GET", "/health")[0] == 200
        metrics = request(port, "GET", "/metrics")[1].decode()
        checks["vanished clients' work dropped (499s)"] = 'status="499"' in metrics
        big = b'{"prompt":"' + b"x" * 70000 + b'","a":"a","b":"b"}'
        checks["oversized body -> 413"] = raw(port, head("/v1/compare", len(big)) + big) == 413
        checks["slow body -> 408"] = raw(port, head("/v1/compare", 100) + b'{"prompt":') == 408
        checks["malformed JSON -> 400"] = raw(port, head("/v1/compare", 5) + b"{nope") == 400
        # SIGTERM under load: 8 clients with one request each in flight.
        results = []

        def one(pair):
            try:
                results.append(request(port, "POST", "/v1/compare", json.dumps(pair))[0])
            except (OSError, http.client.HTTPException) as error:
                results.append(repr(error))
        threads = [threading.Thread(target=one, args=(pairs[k % len(pairs)],)) for k in range(8)]
        for thread in threads:
            thread.start()
        time.sleep(0.3)
        server.process.send_signal(signal.SIGTERM)
        for thread in threads:
            thread.join()
        code = server.process.wait(timeout=600)
        checks["SIGTERM under load: in-flight requests answered 200"] = results.count(200) == len(results)
        checks["SIGTERM under load: exit status 0"] = code == 0
        checks["_sigterm_results"] = results
    finally:
        server.stop()
    return checks


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", required=True, help="the pairrm command (a release build)")
    parser.add_argument("--model", required=True, help=".prm file or checkpoint folder")
    parser.add_argument("--pairs", required=True, help="JSONL of {prompt|source, a, b}")
    parser.add_argument("--pair-limit", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--queue-limit", type=int, default=64)
    parser.add_argument("--levels", default="1,8,64")
    parser.add_argument("--request-timeout", type=float, default=600,
                        help="the server's --request-timeout: long enough that the deepest queue is answered")
    parser.add_argument("--overload-clients", type=int, default=160,
                        help="a last level above workers + queue limit, where 429s are expected (0: skip)")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--soak-minutes", type=float, default=10)
    parser.add_argument("--no-faults", action="store_true")
    parser.add_argument("--baseline-only", action="store_true", help="measure (1) only")
    parser.add_argument("--scratch", default=os.environ.get("TMPDIR", "/tmp"))
    parser.add_argument("--json", help="write the report here too")
    args = parser.parse_args()
    pairs = read_pairs(args.pairs, args.pair_limit)
    report = {"host": host_description(), "workers": args.workers, "threads": args.threads, "queue_limit": args.queue_limit}
    failures = []

    report["library_pairs_per_s"] = library_throughput(args, pairs)
    print("library (pairrm compare --batch-size %d --threads %d): %.2f pairs/s" % (args.workers, args.threads, report["library_pairs_per_s"]), flush=True)
    if args.baseline_only:
        return 0
    server = Server(args)
    try:
        report["levels"] = []
        for clients in [int(x) for x in args.levels.split(",")]:
            level = run_level(server.port, pairs, clients, args.seconds)
            level["ratio_to_library"] = level["pairs_per_s"] / report["library_pairs_per_s"]
            report["levels"].append(level)
            print("%3d clients: %.2f pairs/s (%.2f× library), p50 %.3f s, p99 %.3f s, %s" % (
                clients, level["pairs_per_s"], level["ratio_to_library"], level["p50_s"], level["p99_s"], level["statuses"]), flush=True)
            saturated = clients > args.workers + args.queue_limit
            unexpected = {k: v for k, v in level["statuses"].items() if k != "200" and not (saturated and k == "429")}
            if unexpected:
                failures.append("%d clients: unexpected statuses %s" % (clients, unexpected))
        if args.overload_clients > 0:
            level = run_level(server.port, pairs, args.overload_clients, max(5, args.seconds / 2))
            report["overload"] = level
            rejected = level["statuses"].get("429", 0)
            print("%3d clients (over %d workers + %d queued): %.2f pairs/s answered, %d × 429, %s" % (
                args.overload_clients, args.workers, args.queue_limit, level["pairs_per_s"], rejected, level["statuses"]), flush=True)
            if args.overload_clients > args.workers + args.queue_limit and not rejected:
                failures.append("no 429 above saturation")
            unexpected = {k: v for k, v in level["statuses"].items() if k not in ("200", "429")}
            if unexpected:
                failures.append("overload: unexpected statuses %s" % unexpected)
        if args.soak_minutes > 0:
            samples, middle = [], sorted(int(x) for x in args.levels.split(","))[len(args.levels.split(",")) // 2]
            done = time.monotonic() + args.soak_minutes * 60
            while time.monotonic() < done:
                run_level(server.port, pairs, middle, min(10, max(1, done - time.monotonic())))
                samples.append(server.rss_kib())
            third = max(1, len(samples) // 3)
            first, last = statistics.mean(samples[:third]), statistics.mean(samples[-third:])
            report["soak"] = {"clients": middle, "minutes": args.soak_minutes, "rss_kib_samples": samples,
                              "growth": last / first - 1}
            print("soak %.0f min at %d clients: RSS %d → %d KiB (%+.1f%%)" % (args.soak_minutes, middle, samples[0], samples[-1], 100 * (last / first - 1)), flush=True)
            if last > first * 1.05:
                failures.append("RSS grew %.1f%% over the soak" % (100 * (last / first - 1)))
    finally:
        server.stop()
    if not args.no_faults:
        report["faults"] = faults(args, pairs)
        for name, ok in report["faults"].items():
            if not name.startswith("_"):
                print("%s: %s" % (name, "ok" if ok else "FAILED"), flush=True)
                if not ok:
                    failures.append(name)
    report["failures"] = failures
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(report, out, indent=1)
    print("FAILED: " + "; ".join(failures) if failures else "all checks passed")
    return 1 if failures else 0


def host_description():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return "%s, %d CPUs" % (model, os.cpu_count() or 0)


if __name__ == "__main__":
    sys.exit(main())
