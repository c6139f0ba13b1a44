using System.Diagnostics;
using System.Net.Sockets;

/// <summary>What one open-loop run measured on the client side.</summary>
/// <param name="Rate">The arrival rate asked for, requests per second.</param>
/// <param name="Scheduled">Requests scheduled (rate × duration), every one of which was sent.</param>
/// <param name="Responses">Responses received.</param>
/// <param name="Elapsed">From the first scheduled send to the last response.</param>
/// <param name="Latency">
/// Per response, from the time the schedule said to send the request to the whole response received: any wait before
/// sending (the generator late, no connection free) counts, so a slow server cannot thin out its own measurements.
/// </param>
/// <param name="Service">Per response, from handing the request to HttpClient to the whole response received.</param>
/// <param name="Lateness">Per request, from its scheduled time to handing it to HttpClient (the generator's own delay).</param>
/// <param name="TransportErrors">Connect, read or write failures and timeouts.</param>
/// <param name="Statuses">Responses received, by status code.</param>
/// <param name="ClientCpu">This process's CPU time during the run.</param>
/// <param name="MaxInFlight">The most requests sent and not yet answered at one time.</param>
/// <param name="ConnectionsOpened">Connections the client opened during the run.</param>
internal sealed record OpenLoopRun(
    int Rate,
    long Scheduled,
    long Responses,
    TimeSpan Elapsed,
    LatencySummary Latency,
    LatencySummary Service,
    LatencySummary Lateness,
    long TransportErrors,
    IReadOnlyDictionary<int, long> Statuses,
    TimeSpan ClientCpu,
    int MaxInFlight,
    long ConnectionsOpened)
{
    public double ResponsesPerSecond => Responses / Elapsed.TotalSeconds;
}

/// <summary>
/// Load from requests made one by one (each delivery with its own id, signed when it is sent; each push with events of
/// its own), through one HttpClient shared by every run so that both endpoints see the same client and connections.
/// <see cref="RunOpenAsync"/> sends at a fixed arrival rate whatever the answers do (open loop, as webhook senders do);
/// <see cref="RunClosedAsync"/> keeps N requests in flight (closed loop, for the most a server can answer).
/// </summary>
internal sealed class RequestLoad : IDisposable
{
    private readonly HttpClient _client;
    private long _connections;

    public RequestLoad(Uri baseAddress, int maxConnections, TimeSpan timeout)
    {
        MaxConnections = maxConnections;
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = maxConnections,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(10),
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                    Interlocked.Increment(ref _connections);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        _client = new HttpClient(handler) { BaseAddress = baseAddress, Timeout = timeout };
    }

    public int MaxConnections { get; }

    /// <summary>Connections opened so far.</summary>
    public long Connections => Interlocked.Read(ref _connections);

    public string Description =>
        $".NET {Environment.Version} HttpClient (SocketsHttpHandler, HTTP/1.1, up to {MaxConnections} connections), one client for every run";

    /// <summary>
    /// Sends <paramref name="rate"/> × <paramref name="duration"/> requests, request i at start + i / rate. A dispatcher
    /// thread wakes about every millisecond (the operating system's sleep granularity) and hands every request that is
    /// due to the thread pool, which makes it (signing, for a delivery) and sends it; latency counts from the scheduled
    /// time, so the dispatcher's granularity adds up to a millisecond to every latency, the same for every endpoint
    /// (<see cref="OpenLoopRun.Lateness"/> says how much).
    /// </summary>
    public async Task<OpenLoopRun> RunOpenAsync(Func<HttpRequestMessage> makeRequest, int rate, TimeSpan duration)
    {
        var count = (int)Math.Round(rate * duration.TotalSeconds);
        var latency = new long[count];
        var service = new long[count];
        var lateness = new long[count];
        var status = new int[count];
        var finished = new long[count];
        var tasks = new Task[count];
        var inFlight = 0;
        var maxInFlight = 0;
        var ticksPerRequest = (double)Stopwatch.Frequency / rate;
        var connections = Connections;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var start = Stopwatch.GetTimestamp() + (Stopwatch.Frequency / 100);

        async Task SendAsync(int i, long scheduled)
        {
            using var request = makeRequest();
            var sent = Stopwatch.GetTimestamp();
            lateness[i] = sent - scheduled;
            var now = Interlocked.Increment(ref inFlight);
            for (var max = Volatile.Read(ref maxInFlight); now > max; max = Volatile.Read(ref maxInFlight))
            {
                if (Interlocked.CompareExchange(ref maxInFlight, now, max) == max)
                {
                    break;
                }
            }

            try
            {
                using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseContentRead);
                status[i] = (int)response.StatusCode;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                status[i] = 0;
            }
            finally
            {
                var end = Stopwatch.GetTimestamp();
                Interlocked.Decrement(ref inFlight);
                (latency[i], service[i], finished[i]) = (end - scheduled, end - sent, end);
            }
        }

        var dispatched = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var dispatcher = new Thread(() =>
        {
            for (var next = 0; next < count;)
            {
                var due = (int)Math.Min(count, Math.Floor((Stopwatch.GetTimestamp() - start) / ticksPerRequest) + 1);
                for (; next < due; next++)
                {
                    var (i, scheduled) = (next, start + (long)(next * ticksPerRequest));
                    tasks[i] = Task.Run(() => SendAsync(i, scheduled));
                }

                if (next < count)
                {
                    Thread.Sleep(1);
                }
            }

            dispatched.SetResult();
        })
        { IsBackground = true, Name = "open-loop dispatcher" };
        dispatcher.Start();
        await dispatched.Task;
        await Task.WhenAll(tasks);
        cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu;

        var answered = Enumerable.Range(0, count).Where(i => status[i] != 0).ToArray();
        var byStatus = answered.GroupBy(i => status[i]).ToDictionary(g => g.Key, g => (long)g.Count());
        return new OpenLoopRun(
            rate,
            count,
            answered.Length,
            Stopwatch.GetElapsedTime(start, finished.Max()),
            LatencySummary.Of([.. answered.Select(i => latency[i]).Order()]),
            LatencySummary.Of([.. answered.Select(i => service[i]).Order()]),
            LatencySummary.Of([.. lateness.Order()]),
            count - answered.Length,
            byStatus,
            cpu,
            maxInFlight,
            Connections - connections);
    }

    /// <summary>
    /// <paramref name="concurrency"/> callers, each sending its next request as soon as the previous answer arrived, for
    /// <paramref name="duration"/>; latency from handing a request to HttpClient to its whole response.
    /// </summary>
    public Task<LoadRun> RunClosedAsync(Func<HttpRequestMessage> makeRequest, int concurrency, TimeSpan duration) =>
        ClosedLoop.RunAsync(_client, makeRequest, concurrency, duration);

    public void Dispose() => _client.Dispose();
}

/// <summary>
/// A closed loop: <c>concurrency</c> callers, each sending its next request as soon as the previous answer arrived, for a
/// duration; latency from handing a request to HttpClient to its whole response. Shared by every closed-loop mode.
/// </summary>
internal static class ClosedLoop
{
    public static async Task<LoadRun> RunAsync(HttpClient client, Func<HttpRequestMessage> makeRequest, int concurrency, TimeSpan duration)
    {
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var started = Stopwatch.GetTimestamp();
        var stopAt = started + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var workers = await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            var latencies = new List<long>(1 << 16);
            var statuses = new Dictionary<int, long>();
            var errors = 0L;
            while (Stopwatch.GetTimestamp() < stopAt)
            {
                using var request = makeRequest();
                var sent = Stopwatch.GetTimestamp();
                try
                {
                    using var response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead);
                    latencies.Add(Stopwatch.GetTimestamp() - sent);
                    statuses[(int)response.StatusCode] = statuses.GetValueOrDefault((int)response.StatusCode) + 1;
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    errors++;
                }
            }

            return (latencies, statuses, errors);
        })));
        var elapsed = Stopwatch.GetElapsedTime(started);
        cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu;
        var all = workers.SelectMany(w => w.latencies).Order().ToArray();
        var byStatus = workers.SelectMany(w => w.statuses).GroupBy(p => p.Key).ToDictionary(g => g.Key, g => g.Sum(p => p.Value));
        return new LoadRun(all.Length, elapsed, LatencySummary.Of(all), workers.Sum(w => w.errors), byStatus, cpu);
    }
}
