namespace Bulwark.Ingest;

/// <summary>
/// <c>event-v1</c>: the body already holds schema v1 events (one object, an array of them, or JSON lines). Each is read
/// with <see cref="EventJson"/>; its <c>source</c> must be the source it came through, its <c>received_at</c> is set to
/// the delivery's, and its own <c>platform</c> is kept.
/// </summary>
internal sealed class EventV1Normalizer : NormalizerBase
{
    public override string Name => "event-v1";

    public override string DefaultPlatform => "internal";

    protected override NormalizeResult NormalizeCore(NormalizeInput input)
    {
        using var batch = JsonBody.ReadBatch(input.Body);
        if (batch.Failure is not null)
        {
            return NormalizeResult.Failed(batch.Failure);
        }

        var builder = new NormalizeBuilder();
        var receivedAt = Rfc3339.ToWire(input.ReceivedAt);
        foreach (var item in batch.Items)
        {
            if (item.Problem is not null)
            {
                builder.Issue(item.Index, item.Problem);
                continue;
            }

            if (EventJson.SizeProblem(System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(item.Element).Length) is { } tooLarge)
            {
                builder.Issue(item.Index, tooLarge);
            }
            else if (!EventJson.TryRead(item.Element, out var value, out var errors))
            {
                builder.Issue(item.Index, "not a valid v1 event: " + NormalizeBuilder.Join(errors));
            }
            else if (!string.Equals(value.Source, input.Source, StringComparison.Ordinal))
            {
                builder.Issue(item.Index, $"its source {EventText.Quote(value.Source)} is not the source it was delivered to, {EventText.Quote(input.Source)}");
            }
            else
            {
                builder.AddChecked(value with { ReceivedAt = receivedAt });
            }
        }

        return builder.Build();
    }
}
