namespace Bulwark.TestUtils.Fakes;

/// <summary>
/// A partner's webhook endpoint: records every delivery (headers and the exact body) and answers 204 to a POST at or under /hooks/bulwark, or what a test
/// scripts. It checks nothing itself: tests verify the deliveries with the server's own verifier.
/// </summary>
public sealed class FakePartner : LoopbackFake
{
    private FakePartner()
    {
    }

    /// <summary>The endpoint URL (a webhook connector's URL).</summary>
    public Uri EndpointUrl => new(BaseAddress, "hooks/bulwark");

    public static Task<FakePartner> StartAsync() => StartAsync(new FakePartner());

    protected override FakeAnswer Answer(RecordedRequest request) =>
        request.Method == "POST" && request.Path.StartsWith("/hooks/bulwark", StringComparison.Ordinal) ? new FakeAnswer(204) : FakeAnswer.Text(404, "not found");
}
