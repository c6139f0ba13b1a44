using System.Text.Json.Nodes;
using Bulwark.Audit;
using Bulwark.Identity;
using Bulwark.Json;
using Bulwark.Problems;
using Bulwark.Server.Hosting;
using Bulwark.Server.Http;
using Bulwark.Storage;

namespace Bulwark.Server.Identity;

/// <summary>How a put changed the stored object.</summary>
internal enum PutOutcome
{
    Created = 1,
    Updated = 2,
    Unchanged = 3,
}

/// <summary>
/// Identities and tokens. Every change is audited in its own transaction; a change that would leave no identity with
/// the <c>admin</c> role is refused, so the control plane cannot lock its operators out.
/// </summary>
internal sealed class IdentityService(IControlStore store, IRandomSource random)
{
    public const string BootstrapIdentity = "admin";

    public Task<IdentityRecord> CreateAsync(IdentityDefinition definition, ChangeContext context, CancellationToken cancellationToken) =>
        store.WriteAsync(
            tx =>
            {
                if (tx.GetIdentity(definition.Name) is not null)
                {
                    throw new ProblemException(ProblemKind.Conflict, $"Identity '{definition.Name}' already exists; PUT /v1/identities/{definition.Name} changes it.");
                }

                return Put(tx, definition, null, context);
            },
            cancellationToken);

    public Task<(IdentityRecord Identity, PutOutcome Outcome)> PutAsync(IdentityDefinition definition, ChangeContext context, CancellationToken cancellationToken) =>
        store.WriteAsync(
            tx =>
            {
                var existing = tx.GetIdentity(definition.Name);
                if (existing is not null && IdentityDefinition.From(existing).SameAs(definition))
                {
                    return (existing, PutOutcome.Unchanged);
                }

                if (existing is not null && existing.Roles.Contains(Role.Admin) && !definition.Roles.Contains(Role.Admin))
                {
                    EnsureAnotherAdmin(tx, definition.Name);
                }

                return (Put(tx, definition, existing, context), existing is null ? PutOutcome.Created : PutOutcome.Updated);
            },
            cancellationToken);

    public Task<bool> DeleteAsync(string name, ChangeContext context, CancellationToken cancellationToken) =>
        store.WriteAsync(
            tx =>
            {
                var existing = tx.GetIdentity(name);
                if (existing is null)
                {
                    return false;
                }

                if (existing.Roles.Contains(Role.Admin))
                {
                    EnsureAnotherAdmin(tx, name);
                }

                tx.DeleteIdentity(name);
                tx.Append(Draft(context, "identity.delete", name, Document(existing), null));
                return true;
            },
            cancellationToken);

    public Task<(TokenRecord Record, string Token)> CreateTokenAsync(string identity, string? label, ChangeContext context, CancellationToken cancellationToken)
    {
        var token = Tokens.Create(random);
        var id = Tokens.CreateId(random);
        return store.WriteAsync(
            tx =>
            {
                if (tx.GetIdentity(identity) is null)
                {
                    throw new ProblemException(ProblemKind.NotFound, $"Identity '{identity}' does not exist.");
                }

                return (InsertToken(tx, id, identity, token, label, context), token);
            },
            cancellationToken);
    }

    /// <summary>Revokes a token; <see langword="null"/> when there is no such token. Revoking a revoked token changes nothing.</summary>
    public Task<TokenRecord?> RevokeTokenAsync(string id, ChangeContext context, CancellationToken cancellationToken) =>
        store.WriteAsync(
            tx =>
            {
                var existing = tx.GetToken(id);
                if (existing is null || !existing.IsActive)
                {
                    return existing;
                }

                tx.RevokeToken(id, tx.Now);
                var revoked = existing with { RevokedAt = tx.Now };
                tx.Append(new AuditDraft
                {
                    Actor = context.Actor,
                    Action = "token.revoke",
                    Target = "token/" + id,
                    Before = CanonicalJson.Serialize(TokenDocument(existing)),
                    After = CanonicalJson.Serialize(TokenDocument(revoked)),
                    Reason = context.Reason,
                    CorrelationId = context.CorrelationId,
                });
                return revoked;
            },
            cancellationToken);

    /// <summary>Whether the store has no identity yet, so that start-up must create the admin.</summary>
    public async Task<bool> NeedsBootstrapAsync(CancellationToken cancellationToken) =>
        (await store.ListIdentitiesAsync(cancellationToken).ConfigureAwait(false)).Count == 0;

    /// <summary>
    /// On a store without identities, creates <c>admin</c> with the admin role and one token, <paramref name="token"/>,
    /// in one transaction: there is never an admin without a usable token. Returns whether it did.
    /// </summary>
    public Task<bool> BootstrapAsync(string token, CancellationToken cancellationToken)
    {
        if (token.Length < Tokens.MinimumLength)
        {
            throw new InvalidOperationException($"BULWARK_BOOTSTRAP_TOKEN must be at least {Tokens.MinimumLength} characters.");
        }

        var context = ChangeContext.System("bootstrap");
        var id = Tokens.CreateId(random);
        return store.WriteAsync(
            tx =>
            {
                if (tx.ListIdentities().Count > 0)
                {
                    return false;
                }

                Put(tx, new IdentityDefinition { Name = BootstrapIdentity, Roles = [Role.Admin], Description = "Created on first start" }, null, context);
                InsertToken(tx, id, BootstrapIdentity, token, "bootstrap", context);
                return true;
            },
            cancellationToken);
    }

    public static JsonObject Document(IdentityRecord identity) => IdentityKind.Instance.ToDocument(IdentityDefinition.From(identity));

    public static JsonObject TokenDocument(TokenRecord token) => new()
    {
        ["id"] = token.Id,
        ["identity"] = token.Identity,
        ["label"] = token.Label,
        ["created_at"] = AuditChain.FormatTime(token.CreatedAt),
        ["revoked_at"] = token.RevokedAt is { } revoked ? AuditChain.FormatTime(revoked) : null,
        ["active"] = token.IsActive,
    };

    private static TokenRecord InsertToken(IWriteTransaction tx, string id, string identity, string token, string? label, ChangeContext context)
    {
        var record = new TokenRecord { Id = id, Identity = identity, Hash = Tokens.Hash(token), Label = label, CreatedAt = tx.Now };
        tx.InsertToken(record);
        tx.Append(new AuditDraft
        {
            Actor = context.Actor,
            Action = "token.create",
            Target = "token/" + id,
            After = CanonicalJson.Serialize(TokenDocument(record)),
            Reason = context.Reason,
            CorrelationId = context.CorrelationId,
        });
        return record;
    }

    private static IdentityRecord Put(IWriteTransaction tx, IdentityDefinition definition, IdentityRecord? existing, ChangeContext context)
    {
        var record = new IdentityRecord
        {
            Name = definition.Name,
            Roles = definition.Roles,
            Description = definition.Description,
            CreatedAt = existing?.CreatedAt ?? tx.Now,
            UpdatedAt = tx.Now,
        };
        tx.PutIdentity(record);
        tx.Append(Draft(context, existing is null ? "identity.create" : "identity.update", definition.Name, existing is null ? null : Document(existing), Document(record)));
        return record;
    }

    private static void EnsureAnotherAdmin(IWriteTransaction tx, string name)
    {
        if (!tx.ListIdentities().Any(i => i.Name != name && i.Roles.Contains(Role.Admin)))
        {
            throw new ProblemException(ProblemKind.Conflict, $"'{name}' is the last identity with the admin role; give another identity the admin role first.");
        }
    }

    private static AuditDraft Draft(ChangeContext context, string action, string name, JsonObject? before, JsonObject? after) => new()
    {
        Actor = context.Actor,
        Action = action,
        Target = "identity/" + name,
        Before = CanonicalJson.Serialize(before),
        After = CanonicalJson.Serialize(after),
        Reason = context.Reason,
        CorrelationId = context.CorrelationId,
    };
}
