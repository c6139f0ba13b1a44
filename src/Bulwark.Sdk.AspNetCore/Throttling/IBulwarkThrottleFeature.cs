using Bulwark.Throttling;

namespace Bulwark.Sdk.AspNetCore.Throttling;

/// <summary>
/// The throttle decision of the current request, set by <c>UseBulwarkThrottle</c> on every request it lets through.
/// When <see cref="ChallengeRequired"/> is true the application is to challenge the caller (a CAPTCHA, a step-up)
/// before doing the work: the key was denied often lately.
/// </summary>
public interface IBulwarkThrottleFeature
{
    /// <summary>The throttle that decided.</summary>
    string Throttle { get; }

    /// <summary>The decision.</summary>
    ThrottleDecision Decision { get; }

    /// <summary>Whether the application must challenge the caller.</summary>
    bool ChallengeRequired => Decision.Enforced == ThrottleDecisionKind.Challenge;
}

/// <summary>The feature's implementation.</summary>
internal sealed record BulwarkThrottleFeature(string Throttle, ThrottleDecision Decision) : IBulwarkThrottleFeature;
