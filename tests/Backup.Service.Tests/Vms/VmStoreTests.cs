using Backup.Engine.Vms;
using Backup.Service.Data;
using Backup.Service.Vms;

namespace Backup.Service.Tests.Vms;

public sealed class VmStoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vms-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string File(string name, int bytes = 4096)
    {
        string path = Path.Combine(_dir, name);
        System.IO.File.WriteAllBytes(path, new byte[bytes]);
        return path;
    }

    [Fact]
    public void A_vm_is_defined_once_with_absolute_paths_and_bad_definitions_are_refused_by_name()
    {
        var data = new ApplianceData(Path.Combine(_dir, "data"));
        data.EnsureCreated();
        var store = new VmStore(data);
        string kernel = File("Image");
        string disk = File("root.img");
        var web = store.Create(new VmDefinition { Name = "web", Kernel = kernel, Disks = [new VmDiskDefinition { Path = disk }], Autostart = true });
        Assert.True(Path.IsPathRooted(web.Disks[0].Path));
        var read = store.Get("web");
        Assert.Equal(web.Kernel, read.Kernel);
        Assert.Equal(web.Disks.Select(d => d.Path), read.Disks.Select(d => d.Path));
        Assert.True(read.Autostart);

        Assert.Contains("already exists", Assert.Throws<ArgumentException>(() => store.Create(web)).Message, StringComparison.Ordinal);
        Assert.Contains("already belongs to VM 'web'", Assert.Throws<ArgumentException>(() =>
            store.Create(web with { Name = "copy" })).Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", Assert.Throws<ArgumentException>(() =>
            store.Create(new VmDefinition { Name = "db", Kernel = Path.Combine(_dir, "missing") })).Message, StringComparison.Ordinal);
        Assert.Contains("not a valid VM name", Assert.Throws<ArgumentException>(() =>
            store.Create(new VmDefinition { Name = "Bad Name", Kernel = kernel })).Message, StringComparison.Ordinal);
        Assert.Contains("no VM named", Assert.Throws<ArgumentException>(() => store.Get("nothere")).Message, StringComparison.Ordinal);

        Directory.CreateDirectory(data.VmDirectory("broken"));
        System.IO.File.WriteAllText(data.VmDefinitionPath("broken"), "{ not json");
        var (definitions, problems) = store.List();
        Assert.Equal(["web"], definitions.Select(d => d.Name));
        Assert.Contains(problems, p => p.Contains(data.VmDefinitionPath("broken"), StringComparison.Ordinal));
        Assert.Throws<FormatException>(() => store.Get("broken"));
    }

    [Fact]
    public void An_initrd_is_kept_with_an_absolute_path_omitted_when_absent_and_refused_when_missing()
    {
        var data = new ApplianceData(Path.Combine(_dir, "data"));
        data.EnsureCreated();
        var store = new VmStore(data);
        string kernel = File("Image");
        string initrd = File("initrd.img");
        string relative = Path.GetRelativePath(Environment.CurrentDirectory, initrd);
        var withInitrd = store.Create(new VmDefinition { Name = "stock", Kernel = kernel, Initrd = relative, Disks = [new VmDiskDefinition { Path = File("a.img") }] });
        Assert.Equal(initrd, withInitrd.Initrd);
        Assert.Equal(initrd, store.Get("stock").Initrd);
        Assert.Equal(initrd, store.Get("stock").ToConfiguration([]).InitrdPath);

        var without = store.Create(new VmDefinition { Name = "plain", Kernel = kernel, Disks = [new VmDiskDefinition { Path = File("b.img") }] });
        Assert.Null(store.Get("plain").Initrd);
        Assert.DoesNotContain("initrd", without.ToJson(), StringComparison.Ordinal); // older readers see the same definition

        string missing = Path.Combine(_dir, "no-initrd.img");
        var e = Assert.Throws<ArgumentException>(() => store.Create(new VmDefinition { Name = "broken", Kernel = kernel, Initrd = missing }));
        Assert.Equal($"VM 'broken': initrd '{missing}' does not exist", e.Message);
    }

    [Fact]
    public void A_firmware_vm_pins_its_firmware_files_and_a_missing_one_is_refused_by_name()
    {
        var data = new ApplianceData(Path.Combine(_dir, "data"));
        data.EnsureCreated();
        var store = new VmStore(data);
        string disk = File("boot.img");
        string firmware = File("fw_dynamic.bin");
        string payload = File("u-boot.bin");
        var created = store.Create(new VmDefinition
        {
            Name = "fw",
            Firmware = "opensbi+uboot",
            FirmwareFile = firmware,
            FirmwarePayload = payload,
            Disks = [new VmDiskDefinition { Path = disk }],
        });
        Assert.Equal(firmware, store.Get("fw").FirmwareFile);
        Assert.Equal(payload, created.FirmwarePayload);
        Assert.Equal(string.Empty, created.Kernel);

        string missing = Path.Combine(_dir, "absent.bin");
        var refused = Assert.Throws<ArgumentException>(() => store.Create(created with { Name = "fw2", FirmwareFile = missing }));
        Assert.Contains($"VM 'fw2': firmware '{missing}' does not exist", refused.Message, StringComparison.Ordinal);
    }
}
