using System.Globalization;
using Microsoft.Diagnostics.Tracing.Etlx;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

// Reads an EventPipe trace with allocation ticks (dotnet-trace, provider Microsoft-Windows-DotNETRuntime:0x1:5) and
// prints where the allocations came from: by the first Bulwark frame on the stack, then by type and the innermost
// frames. A tick stands for about 100 KB allocated, so counts are proportional to bytes.
if (args.Length is < 1 or > 2)
{
    Console.Error.WriteLine("usage: AllocationStacks TRACE.nettrace [FRAMES]");
    return 2;
}

var depth = args.Length == 2 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 4;
using var log = new TraceLog(TraceLog.CreateFromEventPipeDataFile(args[0]));
var byOwnFrame = new Dictionary<string, long>(StringComparer.Ordinal);
var byStack = new Dictionary<string, long>(StringComparer.Ordinal);
long total = 0;
foreach (var data in log.Events)
{
    if (data is not GCAllocationTickTraceData tick)
    {
        continue;
    }

    total++;
    var frames = new List<string>();
    for (var frame = data.CallStack(); frame is not null && frames.Count < 64; frame = frame.Caller)
    {
        if (frame.CodeAddress.FullMethodName is { Length: > 0 } name)
        {
            frames.Add(name);
        }
    }

    var own = frames.FirstOrDefault(f => f.Contains("Bulwark", StringComparison.Ordinal)) ?? "(no Bulwark frame) " + frames.FirstOrDefault();
    byOwnFrame[own] = byOwnFrame.GetValueOrDefault(own) + 1;
    var stack = (tick.TypeName ?? "?") + "  <=  " + string.Join(" <- ", frames.Take(depth));
    byStack[stack] = byStack.GetValueOrDefault(stack) + 1;
}

Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{total} allocation ticks"));
Print("by the first Bulwark frame", byOwnFrame, 40);
Print("by type and innermost frames", byStack, 40);
return 0;

void Print(string title, Dictionary<string, long> counts, int top)
{
    Console.WriteLine("== " + title);
    foreach (var (key, count) in counts.OrderByDescending(p => p.Value).Take(top))
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{count,7} {100.0 * count / Math.Max(1, total),5:F1}% {key}"));
    }
}
