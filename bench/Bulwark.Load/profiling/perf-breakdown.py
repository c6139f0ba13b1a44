#!/usr/bin/env python3
"""Where a Bulwark server's time went, from perf (see profile.sh), and by thread.

  perf script -i perf.data | perf-breakdown.py       splits the samples: first by the system call the kernel was
      serving (kernel stacks unwind fully), then by the managed frames on the stack (when the frame-pointer chain
      reaches them; it breaks inside native libraries built without frame pointers), else by the leaf's library.
  perf-breakdown.py --fsync fsync.txt files.txt      fsync calls per file (perf trace output; `ls -l /proc/PID/fd`):
      how many per second and how long they took.
"""
import collections, os, re, sys

KERNEL = [
    ("kernel: fsync (raw.db and events.db WALs at each commit, databases at checkpoints)", r"\bdo_fsync\b|__x64_sys_fsync|__x64_sys_fdatasync"),
    ("kernel: file writes and reads (WAL frames, checkpoint copies)", r"ext4_file_write_iter|ext4_file_read_iter|generic_perform_write|filemap_read|ext4_da_write"),
    ("kernel: futex (threads sleeping and waking)", r"__x64_sys_futex|do_futex"),
    ("kernel: sched_yield (spinning threads)", r"__x64_sys_sched_yield|do_sched_yield"),
    ("kernel: epoll", r"do_epoll_wait|__x64_sys_epoll"),
    ("kernel: TCP/IP (socket sends and receives)", r"tcp_sendmsg|tcp_recvmsg|sock_sendmsg|sock_recvmsg|__sys_sendto|__sys_recvfrom|sock_write_iter|sock_read_iter|net_rx_action|__netif_receive"),
]
MANAGED = [
    ("store writer (CommitBatch): statements, savepoints, commit", lambda c, s: "CommitBatch" in s),
    ("normalizer worker (managed part)", lambda c, s: "NormalizerWorker" in s),
    ("event consumers (EventCounter reading the log)", lambda c, s: "EventConsumer" in s or "ReadEventsAsync" in s),
    ("endpoint handler: real (WebhooksApi.ReceiveAsync)", lambda c, s: "WebhooksApi" in s),
    ("endpoint handler: events push (EventsApi)", lambda c, s: "EventsApi" in s),
    ("bench host endpoints (bare webhook; stats polled by the tool)", lambda c, s: "IngestBenchEndpoints" in s),
    ("garbage collector threads", lambda c, s: "GC" in c),
    ("socket engine thread", lambda c, s: c.startswith(".NET Sockets")),
    ("HTTP: Kestrel, middleware, routing, sockets", lambda c, s: re.search(r"Kestrel|Bulwark\.Server\.(Http|Metrics|Security)|AspNetCore\.(Routing|Http|Hosting)|System\.Net\.Sockets", s)),
    ("thread pool: waiting, spinning, dispatch", lambda c, s: re.search(r"LowLevelLifoSemaphore|PortableThreadPool|WorkerThread|ThreadPoolWorkQueue", s)),
]
LEAF = [
    ("native SQLite (chain lost: the writer, or reads of snapshots and events)", r"libe_sqlite3"),
    ("native crypto (HMAC, SHA-256; chain lost)", r"libcrypto"),
    ("runtime (libcoreclr: allocation, stubs, GC on worker threads)", r"libcoreclr"),
    ("libc (memcpy, locks)", r"libc\.so"),
    ("kernel: other (scheduling, interrupts)", r"kernel\.kallsyms"),
]

def fsyncs(trace, files):
    names = {}
    for line in open(files):
        m = re.search(r"\s(\d+) -> (.+)$", line.strip())
        if m:
            names[int(m.group(1))] = os.path.basename(m.group(2))
    calls = []
    for line in open(trace):
        m = re.search(r"^\s*([\d.]+) \(\s*([\d.]+) ms\): .+ f(?:data)?sync\(fd: (\d+)\)", line)
        if m:
            calls.append((float(m.group(1)), float(m.group(2)), int(m.group(3))))
    if len(calls) < 2:
        print("no fsync calls traced")
        return
    span = (calls[-1][0] - calls[0][0]) / 1000
    by_fd = collections.defaultdict(list)
    for _, duration, fd in calls:
        by_fd[fd].append(duration)
    print(f"fsync over {span:.1f} s:")
    for fd, durations in sorted(by_fd.items(), key=lambda p: -len(p[1])):
        durations.sort()
        q = lambda p: durations[min(len(durations) - 1, int(p * len(durations)))]
        print(f"  {names.get(fd, 'fd ' + str(fd)):<16} {len(durations) / span:7.0f}/s  p50 {q(0.5):.3f} ms  p99 {q(0.99):.3f} ms"
              f"  max {durations[-1]:.3f} ms  busy {sum(durations) / 1000 / span:.0%} of the time")

def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--fsync":
        fsyncs(sys.argv[2], sys.argv[3])
        return
    counts = collections.Counter()
    threads = collections.Counter()
    total = 0
    comm, frames = None, []

    def classify(stack):
        for name, pattern in KERNEL:
            if re.search(pattern, stack):
                return name
        for name, test in MANAGED:
            if test(comm, stack):
                return name
        leaf = frames[0] if frames else ""
        for name, pattern in LEAF:
            if re.search(pattern, leaf):
                return name
        return "other"

    def flush():
        nonlocal total
        if comm is not None:
            total += 1
            counts[classify("\n".join(frames))] += 1
            threads[comm] += 1

    for line in sys.stdin:
        if not line.strip():
            flush()
            comm, frames = None, []
        elif not line.startswith((" ", "\t")):
            flush()
            comm = re.split(r"\s+\d+(?:/\d+)?\s", line.strip(), maxsplit=1)[0]
            frames = []
        else:
            frames.append(line.strip())
    flush()
    for name in [n for n, _ in KERNEL] + [n for n, _ in MANAGED] + [n for n, _ in LEAF] + ["other"]:
        if counts[name]:
            print(f"{counts[name] / max(1, total):6.1%}  {name}")
    print(f"{total} samples")
    # By thread (names as the kernel keeps them, 15 characters): the ingest writers have threads of their own.
    print("by thread: " + ", ".join(f"{name} {count / max(1, total):.1%}" for name, count in threads.most_common(8)))

main()
