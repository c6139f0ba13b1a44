using Bulwark.Flags;
using Bulwark.Identity;
using Bulwark.MassActions;

namespace Bulwark.Core.Tests.MassActions;

public sealed class MassActionPermitsTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 21, 9, 0, 0, TimeSpan.Zero);
    private static readonly FlagStatus On = new(FlagState.Gradual, 100_000);

    private static MassActionRecord Action(long audience = 1_000, long? cap = null, string? throttle = null, MassActionState state = MassActionState.Running, MassActionBreaker? breaker = null) => new()
    {
        Id = "ma_00000000000000aa",
        Definition = new MassActionDefinition
        {
            Name = "reset-nov",
            Action = "password-reset",
            Flag = "bulk-reset",
            Throttle = throttle,
            AudienceSize = audience,
            MaxPerMinute = cap,
            Breaker = breaker ?? MassActionBreaker.Default,
        },
        State = state,
        CreatedBy = "alice",
        CreatedAt = T0,
        UpdatedAt = T0,
    };

    private static PermitDecision Ask(MassActionRecord action, long requested, DateTimeOffset? at = null, FlagStatus? flag = null, Func<long, ThrottleGrant>? throttle = null, bool flagMissing = false) =>
        MassActionPermits.Decide(action, flagMissing ? null : flag ?? On, at ?? T0, requested, throttle, () => "reset surge");

    [Fact]
    public void Decide_WhileNotRunning_GrantsNothing_AndSaysWhy()
    {
        var pending = Ask(Action(state: MassActionState.PendingApproval), 10);
        var paused = Ask(Action(), 10, flag: FlagStatus.Off);
        var archived = Ask(Action(), 10, flagMissing: true);
        var completed = Ask(Action(state: MassActionState.Completed), 10);

        (pending.Granted, pending.State, pending.RetryAfter).ShouldBe((0L, MassActionState.PendingApproval, (TimeSpan?)MassActionPermits.IdleRetry));
        (paused.Granted, paused.State, paused.Reason).ShouldBe((0L, MassActionState.Paused, "paused: flag 'bulk-reset' is OFF"));
        (archived.Granted, archived.State).ShouldBe((0L, MassActionState.Paused));
        (completed.Granted, completed.State, completed.RetryAfter).ShouldBe((0L, MassActionState.Completed, (TimeSpan?)null));
        new[] { pending, paused, archived, completed }.ShouldAllBe(d => d.LimitedBy == PermitLimit.State && !d.Halted);
    }

    [Theory]
    [InlineData(MassActionState.Running)]
    [InlineData(MassActionState.PendingApproval)]
    public void Decide_FlagEmergencyOff_HaltsAnActiveAction_WithTheKillsReason(MassActionState state)
    {
        var decision = Ask(Action(state: state), 10, flag: new FlagStatus(FlagState.EmergencyOff, 0));

        (decision.Granted, decision.State, decision.Halted, decision.RetryAfter).ShouldBe((0L, MassActionState.Halted, true, (TimeSpan?)null));
        decision.Record.State.ShouldBe(MassActionState.Halted);
        decision.Record.Halt.ShouldBe(new MassActionHalt(MassActionHaltCause.KillSwitch, "flag 'bulk-reset' went EMERGENCY_OFF: reset surge", "system:kill-switch", T0));
        decision.Reason.ShouldContain("reset surge");
    }

    [Fact]
    public void Decide_AlreadyHalted_IsNotHaltedAgain()
    {
        var halted = MassActionPermits.KillSwitchHalt(Action(), "first", T0);

        var decision = Ask(halted, 10, flag: new FlagStatus(FlagState.EmergencyOff, 0));

        (decision.Granted, decision.Halted).ShouldBe((0L, false));
        decision.Record.ShouldBeSameAs(halted);
    }

    [Fact]
    public void Decide_RandomRequests_NeverGrantMoreThanTheAudience()
    {
        var random = new Random(20261121);
        var action = Action(audience: 12_345);
        long total = 0;
        for (var i = 0; i < 500; i++)
        {
            var requested = random.Next(1, 400);
            var decision = Ask(action, requested);
            decision.Granted.ShouldBeInRange(0, requested);
            total += decision.Granted;
            total.ShouldBeLessThanOrEqualTo(12_345);
            decision.Record.Progress.Granted.ShouldBe(total);
            action = decision.Record;
        }

        total.ShouldBe(12_345);
        var exhausted = Ask(action, 1);
        (exhausted.Granted, exhausted.LimitedBy, exhausted.State).ShouldBe((0L, PermitLimit.Audience, MassActionState.Running));
    }

    [Fact]
    public void Decide_Cap_NeverGrantsMoreThanBurstPlusTheRateOverAnyInterval_AndKeepsUpTheRate()
    {
        // 600 a minute: one unit every 100 ms, and a burst of ten seconds' worth (100), as docs/mass-actions.md says.
        const long burst = 100;
        var interval = TimeSpan.FromMilliseconds(100);
        var random = new Random(7);
        var action = Action(audience: 1_000_000, cap: 600);
        var grants = new List<(DateTimeOffset At, long Granted)>();
        var now = T0;
        while (now < T0.AddMinutes(10))
        {
            var decision = Ask(action, random.Next(1, 300), now);
            if (decision.Granted == 0)
            {
                decision.LimitedBy.ShouldBe(PermitLimit.Cap);
                decision.RetryAfter!.Value.ShouldBeGreaterThan(TimeSpan.Zero);
                decision.RetryAfter.Value.ShouldBeLessThanOrEqualTo(interval);
            }

            grants.Add((now, decision.Granted));
            action = decision.Record;
            now += TimeSpan.FromMilliseconds(random.Next(0, 2_000));
        }

        for (var i = 0; i < grants.Count; i++)
        {
            long sum = 0;
            for (var j = i; j < grants.Count; j++)
            {
                sum += grants[j].Granted;
                sum.ShouldBeLessThanOrEqualTo(burst + ((grants[j].At - grants[i].At).Ticks / interval.Ticks));
            }
        }

        // Asked often for more than it allows, the cap grants its rate: 10 minutes at 600 a minute, plus the burst.
        grants.Sum(g => g.Granted).ShouldBeInRange(6_000 - 600, 6_000 + burst);
    }

    [Fact]
    public void Decide_ThrottleGrantsLess_TheCapIsChargedOnlyForWhatWasGranted()
    {
        var action = Action(cap: 600, throttle: "reset");
        var denied = Ask(action, 50, throttle: n => new ThrottleGrant(0, TimeSpan.FromSeconds(3)));

        (denied.Granted, denied.LimitedBy, denied.RetryAfter).ShouldBe((0L, PermitLimit.Throttle, (TimeSpan?)TimeSpan.FromSeconds(3)));
        denied.Record.ShouldBeSameAs(action);

        var asked = new List<long>();
        var partial = Ask(denied.Record, 500, throttle: n => { asked.Add(n); return new ThrottleGrant(n / 2, null); });
        asked.ShouldBe([100L], "the throttle is asked only for what the cap allows (its burst)");
        (partial.Granted, partial.LimitedBy, partial.RetryAfter).ShouldBe((50L, PermitLimit.Throttle, (TimeSpan?)TimeSpan.Zero));

        var rest = Ask(partial.Record, 500);
        (rest.Granted, rest.LimitedBy).ShouldBe((50L, PermitLimit.Cap));
    }

    [Fact]
    public void Report_MoreResultsThanUnreportedPermits_IsRefused()
    {
        var action = Ask(Action(), 10).Record;

        var outcome = MassActionPermits.Report(action, 8, 3, new Dictionary<string, long>(), T0);

        outcome.Refusal.ShouldNotBeNull();
        outcome.Record.ShouldBeSameAs(action);
        MassActionPermits.Report(action, 8, 2, new Dictionary<string, long>(), T0).Refusal.ShouldBeNull();
    }

    [Fact]
    public void Report_Breaker_WaitsForMinSamples_ThenTripsOnlyAboveTheRatio()
    {
        var action = Ask(Action(breaker: new MassActionBreaker { MaxFailureRatio = 0.05, MinSamples = 200 }), 1_000).Record;

        var allFailed = MassActionPermits.Report(action, 0, 150, new Dictionary<string, long> { ["smtp"] = 150 }, T0);
        (allFailed.Transition, allFailed.Record.State).ShouldBe((ReportTransition.None, MassActionState.Running), "150 results are fewer than min_samples");

        var fresh = Ask(Action(breaker: new MassActionBreaker { MaxFailureRatio = 0.05, MinSamples = 200 }), 1_000).Record;
        var atRatio = MassActionPermits.Report(fresh, 190, 10, new Dictionary<string, long>(), T0);
        (atRatio.Transition, atRatio.Record.State).ShouldBe((ReportTransition.None, MassActionState.Running), "10 of 200 is exactly 5 %, not above");

        var above = MassActionPermits.Report(atRatio.Record, 0, 1, new Dictionary<string, long>(), T0.AddSeconds(1));
        above.Transition.ShouldBe(ReportTransition.BreakerHalted);
        above.Record.State.ShouldBe(MassActionState.Halted);
        (above.Record.Halt!.Cause, above.Record.Halt.By, above.Record.Halt.At).ShouldBe((MassActionHaltCause.Breaker, "system:breaker", T0.AddSeconds(1)));
        above.Record.Halt.Reason.ShouldContain("11 of 201");
        (above.Record.Progress.Succeeded, above.Record.Progress.Failed).ShouldBe((190L, 11L));
    }

    [Fact]
    public void Report_TheWholeAudience_Completes_AndReportsOnAHaltedActionOnlyCount()
    {
        var action = Ask(Action(audience: 30, breaker: new MassActionBreaker { MaxFailureRatio = 1, MinSamples = 1 }), 30).Record;
        var some = MassActionPermits.Report(action, 20, 0, new Dictionary<string, long>(), T0);
        some.Transition.ShouldBe(ReportTransition.None);

        var last = MassActionPermits.Report(some.Record, 9, 1, new Dictionary<string, long> { ["gone"] = 1 }, T0.AddMinutes(1));
        (last.Transition, last.Record.State, last.Record.CompletedAt).ShouldBe((ReportTransition.Completed, MassActionState.Completed, (DateTimeOffset?)T0.AddMinutes(1)));

        var halted = MassActionPermits.Halt(some.Record, new MassActionHalt(MassActionHaltCause.Manual, "stop", "carol", T0));
        var late = MassActionPermits.Report(halted, 10, 0, new Dictionary<string, long>(), T0);
        (late.Transition, late.Record.State, late.Record.Progress.Reported).ShouldBe((ReportTransition.None, MassActionState.Halted, 30L));
    }

    [Fact]
    public void Report_ErrorCodesBeyondTheLimit_AreCountedAsOther()
    {
        var action = Ask(Action(audience: 1_000, breaker: new MassActionBreaker { MaxFailureRatio = 1, MinSamples = 1 }), 500).Record;
        var codes = Enumerable.Range(0, MassActionPermits.MaxErrorCodes + 5).ToDictionary(i => $"e{i:D3}", _ => 2L);

        var outcome = MassActionPermits.Report(action, 0, codes.Count * 2, codes, T0);

        var errors = outcome.Record.Progress.Errors;
        errors.Count.ShouldBe(MassActionPermits.MaxErrorCodes + 1);
        errors["other"].ShouldBe(10);
        errors.Values.Sum().ShouldBe(codes.Count * 2);
    }

    [Fact]
    public void Rules_Workers_NamedOnesOnly_ElseOperators_AndAdminsAlways()
    {
        var open = Action().Definition;
        var named = open with { Workers = ["worker-a"] };

        MassActionRules.MayWork(open, "anyone", [Role.Operator]).ShouldBeTrue();
        MassActionRules.MayWork(open, "anyone", [Role.Viewer, Role.Responder, Role.Approver]).ShouldBeFalse();
        MassActionRules.MayWork(named, "worker-a", [Role.Viewer]).ShouldBeTrue();
        MassActionRules.MayWork(named, "alice", [Role.Operator]).ShouldBeFalse();
        MassActionRules.MayWork(named, "root", [Role.Admin]).ShouldBeTrue();
    }

    [Theory]
    [InlineData(Role.Viewer, false)]
    [InlineData(Role.Operator, true)]
    [InlineData(Role.Responder, true)]
    [InlineData(Role.Approver, false)]
    [InlineData(Role.Admin, true)]
    public void Rules_HaltOrResume_ByRole(Role role, bool allowed) =>
        MassActionRules.MayHaltOrResume([role]).ShouldBe(allowed);

    [Fact]
    public void Rules_Approval_NeedsAnotherIdentityWithTheApproverRole()
    {
        MassActionRules.DecideApproval("alice", "alice", [Role.Approver, Role.Admin]).Outcome.ShouldBe(TransitionOutcome.Forbidden);
        MassActionRules.DecideApproval("alice", "dave", [Role.Operator]).Outcome.ShouldBe(TransitionOutcome.Forbidden);
        MassActionRules.DecideApproval("alice", "bob", [Role.Approver]).Outcome.ShouldBe(TransitionOutcome.Apply);
        (MassActionRules.NeedsApproval(10_000, MassActionRules.DefaultApprovalThreshold), MassActionRules.NeedsApproval(10_001, MassActionRules.DefaultApprovalThreshold)).ShouldBe((false, true));
    }
}
