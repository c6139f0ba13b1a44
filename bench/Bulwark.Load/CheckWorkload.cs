using System.Globalization;

/// <summary>
/// What the check measurement asks: a throttle with the layers a login or API front door would have, and a seeded
/// sequence of check bodies whose keys are drawn from a large population, with a few hot sources that go over their
/// limits so that most checks are allowed and some are denied.
/// </summary>
internal static class CheckWorkload
{
    public const string Throttle = "web";

    public const int Users = 100_000;

    public const int Addresses = 100_000;

    /// <summary>Share of checks from <see cref="HotAddresses"/> scraper addresses, all in one /24.</summary>
    public const double HotAddressShare = 0.03;

    public const int HotAddresses = 20;

    /// <summary>Share of checks against <see cref="HotUsers"/> targeted accounts, from population addresses.</summary>
    public const double HotUserShare = 0.01;

    public const int HotUsers = 10;

    public const string Policy = """
        {
          "description": "Front door: per address, per /24, per user, and a global ceiling",
          "layers": [
            { "key": "ip", "limit": 100, "per": "1m" },
            { "key": "subnet", "limit": 1000, "per": "1m" },
            { "key": "user", "limit": 20, "per": "1m" },
            { "key": "global", "limit": 1000000, "per": "1s" }
          ],
          "escalation": { "window": "10m", "challenge_after": 5, "block_after": 20, "block_for": "10m" }
        }
        """;

    /// <summary>
    /// <paramref name="count"/> check bodies, <c>{"keys":{"ip":"…","user":"…"},"cost":1}</c>. Population addresses are
    /// distinct and uniform over 100.64.0.0/10 (about six per /24, so no subnet of theirs nears its limit); population
    /// users are <c>user-000000</c> to <c>user-099999</c>. Both are drawn uniformly and independently per check.
    /// </summary>
    public static string[] Bodies(int seed, int count)
    {
        // A benchmark's reproducible sequence, not a secret.
#pragma warning disable CA5394
        var random = new Random(seed);
        var addresses = new HashSet<uint>();
        while (addresses.Count < Addresses)
        {
            addresses.Add((100u << 24) | (64u << 16) | (uint)random.Next(1 << 22));
        }

        var population = addresses.Order().Select(Address).ToArray();
        var hotUsers = Enumerable.Range(0, HotUsers).Select(_ => User(random.Next(Users))).ToArray();
        var bodies = new string[count];
        for (var i = 0; i < count; i++)
        {
            var draw = random.NextDouble();
            var (ip, user) = draw < HotAddressShare
                ? ($"203.0.113.{1 + random.Next(HotAddresses)}", User(random.Next(Users)))
                : draw < HotAddressShare + HotUserShare
                    ? (population[random.Next(Addresses)], hotUsers[random.Next(HotUsers)])
                    : (population[random.Next(Addresses)], User(random.Next(Users)));
            bodies[i] = $$"""{"keys":{"ip":"{{ip}}","user":"{{user}}"},"cost":1}""";
        }
#pragma warning restore CA5394

        return bodies;
    }

    private static string User(int index) => "user-" + index.ToString("D6", CultureInfo.InvariantCulture);

    private static string Address(uint address) =>
        string.Create(CultureInfo.InvariantCulture, $"{address >> 24}.{(address >> 16) & 0xFF}.{(address >> 8) & 0xFF}.{address & 0xFF}");
}
