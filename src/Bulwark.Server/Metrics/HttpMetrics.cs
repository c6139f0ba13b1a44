using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using Microsoft.AspNetCore.Routing;

namespace Bulwark.Server.Metrics;

/// <summary>The server's own instruments, on the meter that <c>/metrics</c> exports.</summary>
internal sealed class ServerInstruments
{
    public const string MeterName = "Bulwark";

    public ServerInstruments(IMeterFactory meterFactory)
    {
        Meter = meterFactory.Create(MeterName);
        Requests = Meter.CreateCounter<long>("bulwark.http.requests", "{request}", "HTTP requests answered, by method, route and status");
        RequestDuration = Meter.CreateHistogram<double>("bulwark.http.request.duration", "s", "HTTP request duration, by method, route and status");
        RequestsInFlight = Meter.CreateUpDownCounter<long>("bulwark.http.requests.in_flight", "{request}", "HTTP requests being processed now");
    }

    public Meter Meter { get; }

    public Counter<long> Requests { get; }

    public Histogram<double> RequestDuration { get; }

    public UpDownCounter<long> RequestsInFlight { get; }
}

/// <summary>Counts and times every request by method, route template (not the raw path: bounded cardinality) and status.</summary>
internal sealed class HttpMetrics(RequestDelegate next, ServerInstruments instruments, TimeProvider time)
{
    /// <summary>Any method a client invents is counted as <c>_OTHER</c>, so no caller can grow the label set.</summary>
    public static string KnownMethod(string method) => method switch
    {
        "GET" or "POST" or "PUT" or "PATCH" or "DELETE" or "HEAD" or "OPTIONS" => method,
        _ => "_OTHER",
    };

    public async Task InvokeAsync(HttpContext context)
    {
        var started = time.GetTimestamp();
        instruments.RequestsInFlight.Add(1);
        try
        {
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            instruments.RequestsInFlight.Add(-1);
            var route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "unmatched";
            var tags = new TagList
            {
                { "method", KnownMethod(context.Request.Method) },
                { "route", route },
                { "status", context.Response.StatusCode.ToString(CultureInfo.InvariantCulture) },
            };
            instruments.Requests.Add(1, tags);
            instruments.RequestDuration.Record(time.GetElapsedTime(started).TotalSeconds, tags);
        }
    }
}
