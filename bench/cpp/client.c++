// bench-client --transport plain|coalescing --connect HOST:PORT --scenario latency|throughput|bulk
//              [--seconds N] [--inflight N] [--payload BYTES] [--max-calls N] [--server-pid PID]
// Prints one line: scenario=... transport=... <figures> peak_rss_kb=... With --server-pid (a server
// on this machine) also server_cpu_us_per_call=...: the server's CPU (/proc/PID/stat) over the
// measured window, divided by the same calls as the client's own figure.

#include <kj/async-io.h>
#include <kj/debug.h>
#include <algorithm>
#include <chrono>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <vector>
#include "bench.capnp.h"
#include "common.h"

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct Run {
  Bench::Client bench;
  Clock::time_point deadline;
  uint64_t maxCalls;
  uint64_t calls = 0;
  uint64_t totalCalls = 0;  // including warm-up (for per-call system call counts)
  std::vector<double> latenciesUs;
  kj::Array<kj::byte> payload;

  Run(Bench::Client bench): bench(kj::mv(bench)) {}

  bool done() { return Clock::now() >= deadline || calls >= maxCalls; }

  kj::Promise<void> latencyLoop() {
    if (done()) return kj::READY_NOW;
    auto start = Clock::now();
    return bench.pingRequest(capnp::MessageSize { 4, 0 }).send()
        .then([this, start](capnp::Response<Bench::PingResults>&&) {
      latenciesUs.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
      ++calls;
      ++totalCalls;
      return latencyLoop();
    });
  }

  kj::Promise<void> pingLoop() {
    if (done()) return kj::READY_NOW;
    return bench.pingRequest(capnp::MessageSize { 4, 0 }).send()
        .then([this](capnp::Response<Bench::PingResults>&&) {
      ++calls;
      ++totalCalls;
      return pingLoop();
    });
  }

  kj::Promise<void> echoLoop() {
    if (done()) return kj::READY_NOW;
    auto request = bench.echoRequest(
        capnp::MessageSize { payload.size() / sizeof(capnp::word) + 16, 0 });
    request.setData(payload);
    return request.send().then([this](capnp::Response<Bench::EchoResults>&& response) {
      auto data = response.getData();
      KJ_REQUIRE(data.size() == payload.size() &&
                 (data.size() == 0 || (data[0] == payload[0] &&
                                       data[data.size() - 1] == payload[payload.size() - 1])),
                 "echo returned different data");
      ++calls;
      ++totalCalls;
      return echoLoop();
    });
  }

  uint64_t runConcurrent(kj::WaitScope& waitScope, uint inflight, bool echo, double seconds,
                         double& elapsed) {
    calls = 0;
    auto start = Clock::now();
    deadline = start + std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(seconds));
    auto workers = kj::heapArrayBuilder<kj::Promise<void>>(inflight);
    for (uint i = 0; i < inflight; i++) workers.add(echo ? echoLoop() : pingLoop());
    kj::joinPromises(workers.finish()).wait(waitScope);
    elapsed = secondsSince(start);
    return calls;
  }
};

double cpuSeconds() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// The CPU time process `pid` has used so far (all its threads), or a negative value when its
// /proc entry cannot be read.
double processCpuSeconds(long pid) {
  auto path = kj::str("/proc/", pid, "/stat");
  FILE* file = fopen(path.cStr(), "r");
  if (file == nullptr) return -1;
  char text[1024];
  size_t length = fread(text, 1, sizeof(text) - 1, file);
  fclose(file);
  text[length] = '\0';
  // The command name (field 2) is in parentheses and may hold spaces: count from the last ')'.
  // After it: state (3) ... utime (14), stime (15), in USER_HZ (100 per second on Linux).
  const char* rest = strrchr(text, ')');
  if (rest == nullptr) return -1;
  unsigned long long userTicks = 0, systemTicks = 0;
  if (sscanf(rest + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
             &userTicks, &systemTicks) != 2) {
    return -1;
  }
  return (userTicks + systemTicks) / 100.0;
}

long peakRssKb() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

}  // namespace

int main(int argc, char* argv[]) {
  kj::StringPtr transportArg = "plain";
  kj::StringPtr connectArg = nullptr;
  kj::StringPtr scenario = "latency";
  double seconds = 5;
  long inflightArg = -1;
  long payloadBytes = 1024 * 1024;
  uint64_t maxCalls = 100000000;
  long serverPid = 0;
  for (int i = 1; i < argc; i++) {
    kj::StringPtr arg = argv[i];
    if (arg == "--transport" && i + 1 < argc) transportArg = argv[++i];
    else if (arg == "--connect" && i + 1 < argc) connectArg = argv[++i];
    else if (arg == "--scenario" && i + 1 < argc) scenario = argv[++i];
    else if (arg == "--seconds" && i + 1 < argc) seconds = atof(argv[++i]);
    else if (arg == "--inflight" && i + 1 < argc) inflightArg = atol(argv[++i]);
    else if (arg == "--payload" && i + 1 < argc) payloadBytes = atol(argv[++i]);
    else if (arg == "--max-calls" && i + 1 < argc) maxCalls = strtoull(argv[++i], nullptr, 10);
    else if (arg == "--server-pid" && i + 1 < argc) serverPid = atol(argv[++i]);
    else {
      fprintf(stderr, "usage: %s --transport plain|coalescing --connect HOST:PORT "
              "--scenario latency|throughput|bulk [--seconds N] [--inflight N] "
              "[--payload BYTES] [--max-calls N] [--server-pid PID]\n", argv[0]);
      return 2;
    }
  }
  if (connectArg == nullptr || seconds <= 0 || seconds > 3600 || payloadBytes < 0) {
    fprintf(stderr, "bench-client: --connect is required; 0 < seconds <= 3600\n");
    return 2;
  }

  KJ_IF_MAYBE(e, kj::runCatchingExceptions([&]() {
    auto transport = bench::parseTransport(transportArg);
    auto io = kj::setupAsyncIo();
    auto address = io.provider->getNetwork().parseAddress(connectArg).wait(io.waitScope);
    auto stream = address->connect().wait(io.waitScope);
    bench::setNoDelay(*stream);
    auto connection = bench::newClientConnection(kj::mv(stream), transport);
    Run run(bench::bootstrapServer(*connection).castAs<Bench>());
    run.maxCalls = maxCalls;

    kj::String figures;
    double cpuStart = 0;
    double serverCpuStart = -1;
    if (scenario == "latency") {
      // Warm-up: connection set-up, allocator, caches.
      run.deadline = Clock::now() + std::chrono::milliseconds(200);
      run.maxCalls = 2000;
      run.latencyLoop().wait(io.waitScope);
      run.latenciesUs.clear();
      run.calls = 0;
      cpuStart = cpuSeconds();
      if (serverPid > 0) serverCpuStart = processCpuSeconds(serverPid);
      run.maxCalls = maxCalls;
      run.deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(seconds));
      run.latencyLoop().wait(io.waitScope);
      auto& v = run.latenciesUs;
      KJ_REQUIRE(!v.empty());
      std::sort(v.begin(), v.end());
      double median = v[v.size() / 2];
      double p99 = v[std::min(v.size() - 1, static_cast<size_t>(v.size() * 0.99))];
      figures = kj::str("median_us=", kj::str(median), " p99_us=", kj::str(p99),
                        " calls=", v.size());
    } else if (scenario == "throughput" || scenario == "bulk") {
      bool echo = scenario == "bulk";
      uint inflight = inflightArg > 0 ? inflightArg : (echo ? 4 : 64);
      if (echo) {
        run.payload = kj::heapArray<kj::byte>(payloadBytes);
        for (size_t i = 0; i < run.payload.size(); i++) run.payload[i] = i * 131 + 7;
      }
      double elapsed = 0;
      run.maxCalls = echo ? 8 : 2000;
      run.runConcurrent(io.waitScope, inflight, echo, 0.2, elapsed);  // warm-up
      run.maxCalls = maxCalls;
      cpuStart = cpuSeconds();
      if (serverPid > 0) serverCpuStart = processCpuSeconds(serverPid);
      uint64_t calls = run.runConcurrent(io.waitScope, inflight, echo, seconds, elapsed);
      if (echo) {
        double mbPerS = calls * static_cast<double>(payloadBytes) / 1e6 / elapsed;
        figures = kj::str("mb_per_s=", kj::str(mbPerS), " calls=", calls,
                          " payload_bytes=", payloadBytes, " inflight=", inflight);
      } else {
        figures = kj::str("calls_per_s=", kj::str(calls / elapsed), " calls=", calls,
                          " inflight=", inflight);
      }
    } else {
      KJ_FAIL_REQUIRE("unknown scenario (expected latency, throughput or bulk)", scenario);
    }

    double cpuUsPerCall = (cpuSeconds() - cpuStart) * 1e6 / kj::max(run.calls, uint64_t(1));
    kj::String serverCpu;
    if (serverCpuStart >= 0) {
      double serverCpuEnd = processCpuSeconds(serverPid);
      if (serverCpuEnd >= 0) {
        serverCpu = kj::str(" server_cpu_us_per_call=",
                            (serverCpuEnd - serverCpuStart) * 1e6 / kj::max(run.calls, uint64_t(1)));
      }
    }
    kj::String streamStats;
    if (connection->msgStream.get() != nullptr) {
      auto& s = connection->msgStream->getStats();
      streamStats = kj::str(" stream_msgs_out=", s.messagesWritten, " stream_writes=", s.writeCalls,
                            " stream_msgs_in=", s.messagesRead, " stream_reads=", s.readCalls,
                            " stream_msgs_copied=", s.messagesCopied,
                            " stream_read_buffers_allocated=", s.buffersAllocated,
                            " stream_bytes_moved=", s.bytesCopiedOnRead);
    }
    printf("scenario=%s transport=%s %s client_cpu_us_per_call=%.2f total_calls=%llu "
           "peak_rss_kb=%ld%s%s\n", scenario.cStr(),
           bench::transportName(transport).cStr(), figures.cStr(), cpuUsPerCall,
           static_cast<unsigned long long>(run.totalCalls), peakRssKb(), serverCpu.cStr(), streamStats.cStr());
    fflush(stdout);
  })) {
    fprintf(stderr, "bench-client: %s\n", kj::str(*e).cStr());
    return 1;
  }
  return 0;
}
