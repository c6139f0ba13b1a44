using Bulwark.Storage;
using Bulwark.Storage.Sqlite;
using Bulwark.TestUtils;

namespace Bulwark.StorageSqlite.Tests;

/// <summary>The store contract over a real SQLite file.</summary>
public sealed class SqliteControlStoreContractTests : ControlStoreContract
{
    private readonly TempDirectory _directory = new();

    protected override async Task<IControlStore> OpenStoreCoreAsync(TimeProvider time)
    {
        var store = new SqliteControlStore(new SqliteStoreOptions { DataDirectory = _directory.Path }, time);
        await store.MigrateAsync();
        return store;
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        _directory.Dispose();
    }
}
