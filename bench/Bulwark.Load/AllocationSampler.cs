using System.Collections.Concurrent;

/// <summary>
/// Samples this process's allocations by type (the runtime's allocation tick, about one per 100 KB), or with
/// <c>jit</c> counts the methods compiled, while <see cref="On"/>.
/// </summary>
internal sealed class AllocationSampler(bool jit) : System.Diagnostics.Tracing.EventListener
{
    // A field initializer runs before the base constructor, which already announces the runtime's event source.
    private readonly bool _jit = jit;

    public ConcurrentDictionary<string, long> ByType { get; } = new();

    public volatile bool On;

    protected override void OnEventSourceCreated(System.Diagnostics.Tracing.EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, System.Diagnostics.Tracing.EventLevel.Verbose, (System.Diagnostics.Tracing.EventKeywords)(_jit ? 0x10 : 0x1));
        }
    }

    protected override void OnEventWritten(System.Diagnostics.Tracing.EventWrittenEventArgs eventData)
    {
        if (On && eventData.EventName == "MethodJittingStarted_V1")
        {
            var name = eventData.Payload![eventData.PayloadNames!.IndexOf("MethodNamespace")] + "::" + eventData.Payload![eventData.PayloadNames!.IndexOf("MethodName")];
            ByType.AddOrUpdate(name, 1, (_, v) => v + 1);
        }

        if (On && eventData.EventName?.StartsWith("GCAllocationTick", StringComparison.Ordinal) == true)
        {
            var name = eventData.Payload![eventData.PayloadNames!.IndexOf("TypeName")]?.ToString() ?? "?";
            ByType.AddOrUpdate(name, 1, (_, v) => v + 1);
        }
    }
}
