using Bulwark.Identity;

namespace Bulwark.Core.Tests.Identity;

public sealed class RoleTests
{
    /// <summary>
    /// Persisted and wire values. Changing a number or a name here means a stored role changes meaning: add new members
    /// with new numbers instead, and extend this table.
    /// </summary>
    private static readonly (Role Role, int Value, string Name)[] PinnedRoles =
    [
        (Role.Viewer, 1, "viewer"),
        (Role.Operator, 2, "operator"),
        (Role.Responder, 3, "responder"),
        (Role.Approver, 4, "approver"),
        (Role.Admin, 5, "admin"),
        (Role.Ingest, 6, "ingest"),
    ];

    private static readonly (Capability Capability, int Value)[] PinnedCapabilities =
    [
        (Capability.Read, 1),
        (Capability.Configure, 2),
        (Capability.Respond, 3),
        (Capability.Approve, 4),
        (Capability.Administer, 5),
        (Capability.Ingest, 6),
    ];

    private const bool Y = true;
    private const bool N = false;

    /// <summary>The grant matrix, written out: rows are roles, columns are Read, Configure, Respond, Approve, Administer, Ingest.</summary>
    private static readonly (Role Role, bool[] Grants)[] GrantMatrix =
    [
        //                 Read Configure Respond Approve Administer Ingest
        (Role.Viewer,    [Y,   N,        N,      N,      N,         N]),
        (Role.Operator,  [Y,   Y,        N,      N,      N,         Y]),
        (Role.Responder, [Y,   N,        Y,      N,      N,         N]),
        (Role.Approver,  [Y,   N,        N,      Y,      N,         N]),
        (Role.Admin,     [Y,   Y,        Y,      Y,      Y,         Y]),
        (Role.Ingest,    [N,   N,        N,      N,      N,         Y]),
    ];

    private static readonly Capability[] MatrixColumns =
        [Capability.Read, Capability.Configure, Capability.Respond, Capability.Approve, Capability.Administer, Capability.Ingest];

    [Fact]
    public void Role_PersistedValues_ArePinned()
    {
        var actual = Enum.GetValues<Role>().ToDictionary(r => r.ToString(), r => (int)r);
        var expected = PinnedRoles.ToDictionary(p => p.Role.ToString(), p => p.Value);

        actual.ShouldBe(expected, ignoreOrder: true);
        foreach (var (role, value, _) in PinnedRoles)
        {
            ((int)role).ShouldBe(value, role.ToString());
        }
    }

    [Fact]
    public void Capability_PersistedValues_ArePinned()
    {
        var actual = Enum.GetValues<Capability>().ToDictionary(c => c.ToString(), c => (int)c);
        var expected = PinnedCapabilities.ToDictionary(p => p.Capability.ToString(), p => p.Value);

        actual.ShouldBe(expected, ignoreOrder: true);
        foreach (var (capability, value) in PinnedCapabilities)
        {
            ((int)capability).ShouldBe(value, capability.ToString());
        }
    }

    [Fact]
    public void All_ListsEveryRoleInDeclarationOrder()
    {
        Roles.All.ShouldBe(PinnedRoles.Select(p => p.Role));
    }

    [Fact]
    public void Name_EveryRole_IsItsPinnedWireName()
    {
        foreach (var (role, _, name) in PinnedRoles)
        {
            Roles.Name(role).ShouldBe(name);
        }
    }

    [Fact]
    public void TryParse_NameOfEveryRole_RoundTrips()
    {
        foreach (var role in Roles.All)
        {
            Roles.TryParse(Roles.Name(role), out var parsed).ShouldBeTrue(role.ToString());
            parsed.ShouldBe(role);
        }
    }

    [Theory]
    [InlineData("Viewer")]
    [InlineData("ADMIN")]
    [InlineData("Operator")]
    [InlineData(" viewer")]
    [InlineData("viewer ")]
    [InlineData("root")]
    [InlineData("admins")]
    [InlineData("1")]
    [InlineData("")]
    [InlineData(null)]
    public void TryParse_OtherThanAnExactName_IsRejected(string? name)
    {
        Roles.TryParse(name, out var role).ShouldBeFalse();
        role.ShouldBe(default);
    }

    [Fact]
    public void Name_UndefinedValue_Throws()
    {
        Should.Throw<ArgumentOutOfRangeException>(() => Roles.Name((Role)99));
        Should.Throw<ArgumentOutOfRangeException>(() => Roles.Name(default));
    }

    [Fact]
    public void GrantMatrix_CoversEveryRoleAndCapability()
    {
        GrantMatrix.Select(r => r.Role).ShouldBe(Roles.All, ignoreOrder: true);
        MatrixColumns.ShouldBe(Enum.GetValues<Capability>(), ignoreOrder: true);
        GrantMatrix.ShouldAllBe(r => r.Grants.Length == MatrixColumns.Length);
    }

    [Fact]
    public void Grants_EveryRoleAndCapability_MatchesTheMatrix()
    {
        foreach (var (role, grants) in GrantMatrix)
        {
            for (var c = 0; c < MatrixColumns.Length; c++)
            {
                Roles.Grants(role, MatrixColumns[c]).ShouldBe(grants[c], $"{role} × {MatrixColumns[c]}");
            }
        }
    }

    [Fact]
    public void AnyGrants_NoRoles_GrantsNothing()
    {
        foreach (var capability in MatrixColumns)
        {
            Roles.AnyGrants([], capability).ShouldBeFalse(capability.ToString());
        }
    }

    [Fact]
    public void AnyGrants_EverySetOfRoles_IsTheUnionOfTheMatrixRows()
    {
        var all = Roles.All;
        for (var mask = 0; mask < 1 << all.Count; mask++)
        {
            var held = all.Where((_, i) => (mask & (1 << i)) != 0).ToArray();
            for (var c = 0; c < MatrixColumns.Length; c++)
            {
                var expected = GrantMatrix.Any(row => held.Contains(row.Role) && row.Grants[c]);
                Roles.AnyGrants(held, MatrixColumns[c]).ShouldBe(expected, $"[{string.Join(',', held)}] × {MatrixColumns[c]}");
            }
        }
    }

    [Fact]
    public void AnyGrants_OrderAndDuplicates_DoNotMatter()
    {
        Roles.AnyGrants([Role.Viewer, Role.Viewer, Role.Responder], Capability.Respond).ShouldBeTrue();
        Roles.AnyGrants([Role.Responder, Role.Viewer], Capability.Respond).ShouldBeTrue();
        Roles.AnyGrants([Role.Viewer, Role.Viewer], Capability.Respond).ShouldBeFalse();
    }

    [Fact]
    public void AnyGrants_NullRoles_Throws()
    {
        Should.Throw<ArgumentNullException>(() => Roles.AnyGrants(null!, Capability.Read));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    [InlineData(-1)]
    public void Grants_UndefinedRoleValue_GrantsNothing(int value)
    {
        foreach (var capability in Enum.GetValues<Capability>())
        {
            Roles.Grants((Role)value, capability).ShouldBeFalse();
        }
    }
}
