using System.CommandLine;
using System.Net;
using System.Text.Json.Nodes;
using Bulwark.Cli.Output;
using Bulwark.Identity;

namespace Bulwark.Cli.Commands;

/// <summary><c>bulwark token create|list|revoke</c> and <c>bulwark whoami</c>.</summary>
internal static class TokenCommands
{
    public static Command Create(CliContext cli)
    {
        var token = new Command("token", "Create, list and revoke bearer tokens (admin)");
        token.Subcommands.Add(CreateToken(cli));
        token.Subcommands.Add(ListTokens(cli));
        token.Subcommands.Add(RevokeToken(cli));
        return token;
    }

    public static Command WhoAmI(CliContext cli)
    {
        var json = CliContext.JsonOption();
        var command = new Command("whoami", "Show the identity and roles of the token in use") { json };
        command.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            var me = (await client.GetAsync("v1/whoami", ct).ConfigureAwait(false)).Body!;
            if (parse.GetValue(json))
            {
                cli.WriteJson(me);
            }
            else
            {
                Table.Write(cli.Out, ["NAME", "ROLES", "TOKEN"], [[me["name"]?.ToString(), Roles(me), me["token_id"]?.ToString()]]);
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command CreateToken(CliContext cli)
    {
        var name = new Option<string>("--name") { Description = "Identity the token authenticates (created when missing)", Required = true };
        var roles = new Option<string[]>("--role") { Description = "Role of a new identity: viewer, operator, responder, approver, admin (repeatable)", AllowMultipleArgumentsPerToken = true };
        var label = new Option<string?>("--label") { Description = "A label to tell tokens apart" };
        var json = CliContext.JsonOption();
        var command = new Command("create", "Create a token (and its identity, given --role); the token is shown once") { name, roles, label, json };
        command.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            var identity = parse.GetValue(name)!;
            var wanted = parse.GetValue(roles) ?? [];
            foreach (var role in wanted)
            {
                if (!Bulwark.Identity.Roles.TryParse(role, out _))
                {
                    await cli.Error.WriteLineAsync($"error: '{role}' is not a role; use viewer, operator, responder, approver or admin").ConfigureAwait(false);
                    return ExitCodes.Usage;
                }
            }

            using var client = cli.Client(parse);
            var existing = await client.SendAsync(HttpMethod.Get, $"v1/identities/{Uri.EscapeDataString(identity)}", null, ct, alsoAccept: HttpStatusCode.NotFound).ConfigureAwait(false);
            if (existing.Status == HttpStatusCode.NotFound)
            {
                if (wanted.Length == 0)
                {
                    await cli.Error.WriteLineAsync($"error: identity '{identity}' does not exist; give --role to create it").ConfigureAwait(false);
                    return ExitCodes.Failed;
                }

                var body = new JsonObject { ["name"] = identity, ["roles"] = new JsonArray([.. wanted.Select(r => (JsonNode)r)]) };
                await client.PostAsync("v1/identities", body, ct).ConfigureAwait(false);
            }
            else if (wanted.Length > 0 && !SameRoles(existing.Body!, wanted))
            {
                await cli.Error.WriteLineAsync($"error: identity '{identity}' exists with roles [{Roles(existing.Body!)}]; change roles with 'bulwark apply' or PUT /v1/identities/{identity}").ConfigureAwait(false);
                return ExitCodes.Failed;
            }

            var request = new JsonObject();
            if (parse.GetValue(label) is { } text)
            {
                request["label"] = text;
            }

            var created = (await client.PostAsync($"v1/identities/{Uri.EscapeDataString(identity)}/tokens", request, ct).ConfigureAwait(false)).Body!;
            if (parse.GetValue(json))
            {
                cli.WriteJson(created);
            }
            else
            {
                Table.Write(cli.Out, ["ID", "IDENTITY", "TOKEN"], [[created["id"]?.ToString(), identity, created["token"]?.ToString()]]);
                await cli.Error.WriteLineAsync("Store the token now: it is not shown again.").ConfigureAwait(false);
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command ListTokens(CliContext cli)
    {
        var identity = new Option<string?>("--identity") { Description = "Only this identity's tokens" };
        var json = CliContext.JsonOption();
        var command = new Command("list", "List tokens (never their values, which are not stored)") { identity, json };
        command.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            var query = parse.GetValue(identity) is { } name ? "?identity=" + Uri.EscapeDataString(name) : string.Empty;
            var list = (await client.GetAsync("v1/tokens" + query, ct).ConfigureAwait(false)).Body!;
            if (parse.GetValue(json))
            {
                cli.WriteJson(list);
                return ExitCodes.Ok;
            }

            Table.Write(
                cli.Out,
                ["ID", "IDENTITY", "LABEL", "CREATED", "REVOKED"],
                list["items"]!.AsArray().Select(t => (IReadOnlyList<string?>)[t!["id"]?.ToString(), t["identity"]?.ToString(), t["label"]?.ToString(), t["created_at"]?.ToString(), t["revoked_at"]?.ToString()]));
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command RevokeToken(CliContext cli)
    {
        var id = new Argument<string>("id") { Description = "The token id (tk_...)" };
        var command = new Command("revoke", "Revoke a token at once") { id };
        command.SetAction((parse, ct) => cli.RunAsync(async () =>
        {
            using var client = cli.Client(parse);
            await client.DeleteAsync("v1/tokens/" + Uri.EscapeDataString(parse.GetValue(id)!), ct).ConfigureAwait(false);
            await cli.Out.WriteLineAsync($"revoked {parse.GetValue(id)}").ConfigureAwait(false);
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static string Roles(JsonNode identity) =>
        string.Join(", ", identity["roles"]?.AsArray().Select(r => r!.ToString()) ?? []);

    private static bool SameRoles(JsonNode identity, string[] wanted) =>
        (identity["roles"]?.AsArray().Select(r => r!.ToString()) ?? []).Order(StringComparer.Ordinal)
            .SequenceEqual(wanted.Distinct().Order(StringComparer.Ordinal));
}
