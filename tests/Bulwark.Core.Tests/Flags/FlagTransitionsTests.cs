using Bulwark.Flags;
using Bulwark.Identity;

namespace Bulwark.Core.Tests.Flags;

public sealed class FlagTransitionsTests
{
    private static readonly FlagState[] States = Enum.GetValues<FlagState>();

    private static FlagStatus S(FlagState state, int millipercent = 5000) => new(state, millipercent);

    private static TransitionOutcome Decide(FlagState from, FlagState to, Role role, string? reason = "because", bool breakGlass = false) =>
        FlagTransitions.Decide(new TransitionRequest(S(from), S(to), reason, breakGlass), [role]).Outcome;

    public static TheoryData<FlagState, Role> EveryStateAndRole()
    {
        var data = new TheoryData<FlagState, Role>();
        foreach (var state in States)
        {
            foreach (var role in Roles.All)
            {
                data.Add(state, role);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(EveryStateAndRole))]
    public void ToEmergencyOff_FromAnyState_OnlyResponderOrAdminAndAppliedAtOnce(FlagState from, Role role)
    {
        var expected = role is Role.Responder or Role.Admin ? TransitionOutcome.Apply : TransitionOutcome.Forbidden;

        Decide(from, FlagState.EmergencyOff, role).ShouldBe(expected);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void ToEmergencyOff_WithoutAReason_IsInvalid(string? reason) =>
        Decide(FlagState.Global, FlagState.EmergencyOff, Role.Responder, reason).ShouldBe(TransitionOutcome.Invalid);

    [Theory]
    [MemberData(nameof(EveryStateAndRole))]
    public void ToGlobal_IsNeverAppliedByOnePerson(FlagState from, Role role)
    {
        var outcome = Decide(from, FlagState.Global, role);

        outcome.ShouldNotBe(TransitionOutcome.Apply);
        outcome.ShouldBe(role is Role.Operator or Role.Responder or Role.Admin ? TransitionOutcome.RequiresApproval : TransitionOutcome.Forbidden);
        Decide(from, FlagState.Global, Role.Admin, breakGlass: true).ShouldNotBe(TransitionOutcome.Apply);
    }

    [Theory]
    [MemberData(nameof(EveryStateAndRole))]
    public void LeavingEmergencyOff_NeedsApprovalOrAnAdminBreakingGlassWithAReason(FlagState to, Role role)
    {
        if (to == FlagState.EmergencyOff)
        {
            return;
        }

        var outcome = Decide(FlagState.EmergencyOff, to, role);
        outcome.ShouldBe(role is Role.Operator or Role.Responder or Role.Admin ? TransitionOutcome.RequiresApproval : TransitionOutcome.Forbidden);

        var glass = Decide(FlagState.EmergencyOff, to, role, breakGlass: true);
        glass.ShouldBe(role == Role.Admin ? TransitionOutcome.BreakGlass : TransitionOutcome.Forbidden);
        if (role == Role.Admin)
        {
            Decide(FlagState.EmergencyOff, to, role, reason: null, breakGlass: true).ShouldBe(TransitionOutcome.Invalid);
        }
    }

    [Theory]
    [InlineData(FlagState.Off, FlagState.Canary)]
    [InlineData(FlagState.Canary, FlagState.Gradual)]
    [InlineData(FlagState.Gradual, FlagState.Gradual)]
    [InlineData(FlagState.Gradual, FlagState.Off)]
    [InlineData(FlagState.Global, FlagState.Gradual)]
    [InlineData(FlagState.Global, FlagState.Off)]
    public void OrdinaryTransitions_OperatorOrAdminApplyAtOnce_OthersAreForbidden(FlagState from, FlagState to)
    {
        foreach (var role in Roles.All)
        {
            Decide(from, to, role, reason: null).ShouldBe(role is Role.Operator or Role.Admin ? TransitionOutcome.Apply : TransitionOutcome.Forbidden, $"{role}");
        }
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(100_001)]
    public void PercentageOutOfRange_IsInvalid(int millipercent) =>
        FlagTransitions.Decide(new TransitionRequest(S(FlagState.Off), S(FlagState.Gradual, millipercent), null), [Role.Operator]).Outcome
            .ShouldBe(TransitionOutcome.Invalid);

    [Fact]
    public void Approval_ByTheRequesterThemselves_IsForbiddenEvenForAnAdmin()
    {
        FlagTransitions.DecideApproval("alice", "alice", [Role.Approver, Role.Admin]).Outcome.ShouldBe(TransitionOutcome.Forbidden);
        FlagTransitions.DecideApproval("alice", "bob", [Role.Approver]).Outcome.ShouldBe(TransitionOutcome.Apply);
        FlagTransitions.DecideApproval("alice", "carol", [Role.Admin]).Outcome.ShouldBe(TransitionOutcome.Apply);
        FlagTransitions.DecideApproval("alice", "dave", [Role.Operator, Role.Responder]).Outcome.ShouldBe(TransitionOutcome.Forbidden);
    }

    [Fact]
    public void PendingChange_ExpiresExactlyAtItsExpiry()
    {
        var created = new DateTimeOffset(2026, 11, 21, 9, 0, 0, TimeSpan.Zero);
        var change = new PendingChange
        {
            Id = "ch_1",
            FlagKey = "f",
            From = S(FlagState.Off),
            To = S(FlagState.Global),
            RequestedBy = "alice",
            CreatedAt = created,
            ExpiresAt = created + FlagTransitions.DefaultApprovalTtl,
            Status = ChangeStatus.Pending,
        };

        change.StatusAt(created.AddHours(23).AddMinutes(59)).ShouldBe(ChangeStatus.Pending);
        change.StatusAt(created.AddHours(24)).ShouldBe(ChangeStatus.Expired);
        (change with { Status = ChangeStatus.Approved }).StatusAt(created.AddDays(3)).ShouldBe(ChangeStatus.Approved);
    }

    [Fact]
    public void ChangeStatus_PersistedNumbersArePinned() =>
        ((int)ChangeStatus.Pending, (int)ChangeStatus.Approved, (int)ChangeStatus.Rejected, (int)ChangeStatus.Expired, (int)ChangeStatus.Superseded)
            .ShouldBe((1, 2, 3, 4, 5));
}
