using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Gpuckpt.Engine.Images;

namespace Gpuckpt.Engine.Tests.Images.Mutation;

/// <summary>What one mutation did: what to print, and which files a refusal may name (null: any file of the image).</summary>
public sealed record Mutated(string Description, IReadOnlyList<string>? Names, bool MustRefuse, bool NoOp = false);

/// <summary>
/// One way to damage or forge an image. <see cref="Sealed"/> mutations also fix the checksums (a forger's work), so
/// only the image's own rules can catch them; the others must always be refused, naming the file they touched.
/// </summary>
public sealed partial record ImageMutation(string Name, bool Sealed, Func<string, Random, RealImage, Mutated> Apply)
{
    public override string ToString() => Name;

    private static readonly long[] Absurd = [long.MaxValue, -1, 1L << 62, 1L << 32, 0];
    private static readonly ulong[] AbsurdU = [ulong.MaxValue, 1UL << 63, 1UL << 32, 0, 1];

    public static readonly IReadOnlyList<ImageMutation> All =
    [
        new("bit-flip", false, (dir, r, img) =>
        {
            var f = Pick(r, img.Files);
            var bytes = File.ReadAllBytes(Path.Combine(dir, f));
            var at = r.NextInt64(bytes.Length);
            bytes[at] ^= (byte)r.Next(1, 256);
            File.WriteAllBytes(Path.Combine(dir, f), bytes);
            return new($"{f}: byte {at} flipped", [f], true);
        }),
        new("truncate", false, (dir, r, img) =>
        {
            var f = Pick(r, img.Files);
            var path = Path.Combine(dir, f);
            var length = new FileInfo(path).Length;
            var to = r.Next(3) == 0 ? r.NextInt64(Math.Min(length, 16)) : r.NextInt64(length);
            using (var h = File.OpenHandle(path, FileMode.Open, FileAccess.Write)) RandomAccess.SetLength(h, to);
            return new($"{f}: cut from {length} to {to} bytes", [f], true);
        }),
        new("extend", false, (dir, r, img) =>
        {
            var f = Pick(r, img.Files);
            var extra = new byte[r.Next(1, 4097)];
            r.NextBytes(extra);
            using (var s = new FileStream(Path.Combine(dir, f), FileMode.Append)) s.Write(extra);
            return new($"{f}: {extra.Length} bytes appended", [f], true);
        }),
        new("swap", false, (dir, r, img) =>
        {
            var data = img.Files.Where(n => n != ImageManifest.FileName).ToList();
            var a = Pick(r, data);
            var b = Pick(r, data.Where(n => n != a).ToList());
            var pa = Path.Combine(dir, a);
            var pb = Path.Combine(dir, b);
            var same = File.ReadAllBytes(pa).AsSpan().SequenceEqual(File.ReadAllBytes(pb));
            File.Move(pa, pa + ".swap");
            File.Move(pb, pa);
            File.Move(pa + ".swap", pb);
            return new($"{a} and {b} swapped", [a, b], true, NoOp: same);
        }),
        new("duplicate", false, (dir, r, img) =>
        {
            var f = Pick(r, img.Files.Where(n => n != ImageManifest.FileName).ToList());
            var copy = r.Next(3) switch
            {
                0 => ImageFileName.Dmabuf(r.Next(2000, 9999)),
                1 => ImageFileName.KfdPages(1, (uint)r.Next(0x10000, 0xfffff)),
                _ => ImageFileName.RenderNode(r.Next(500, 900)),
            };
            File.Copy(Path.Combine(dir, f), Path.Combine(dir, copy));
            return new($"{f} copied as {copy}", [copy], true);
        }),
        new("delete", false, (dir, r, img) =>
        {
            var f = Pick(r, img.Files.Where(n => n != ImageManifest.FileName).ToList());
            File.Delete(Path.Combine(dir, f));
            return new($"{f} deleted", [f], true);
        }),
        new("prefix", false, (dir, r, img) =>
        {
            var f = Pick(r, img.Files.Where(n => n != ImageManifest.FileName).ToList());
            var value = Absurd[r.Next(Absurd.Length)];
            using (var h = File.OpenHandle(Path.Combine(dir, f), FileMode.Open, FileAccess.Write))
            {
                var prefix = new byte[8];
                LengthPrefix.Write(prefix, value);
                RandomAccess.Write(h, prefix, 0);
            }
            return new($"{f}: length prefix set to {value}", [f], true);
        }),
        new("not-a-regular-file", false, (dir, r, img) =>
        {
            var f = Pick(r, img.Files.Where(n => n != ImageManifest.FileName).ToList());
            var path = Path.Combine(dir, f);
            if (r.Next(2) == 0)
            {
                // The same bytes, outside the image: only the link itself is wrong.
                var outside = Directory.CreateDirectory(dir + "-outside").FullName;
                File.Move(path, Path.Combine(outside, f));
                File.CreateSymbolicLink(path, Path.Combine(outside, f));
                return new($"{f} replaced by a symbolic link to its own bytes", [f], true);
            }
            File.Delete(path);
            if (MkFifo(path, 0x180) != 0) throw new IOException($"mkfifo {path}: errno {Marshal.GetLastPInvokeError()}");
            return new($"{f} replaced by a FIFO", [f], true);
        }),

        // ---- forgeries: the checksums are fixed afterwards --------------------------------------------------------
        new("sealed-prefix", true, (dir, r, img) =>
        {
            var f = Pick(r, img.Files.Where(n => n != ImageManifest.FileName).ToList());
            var bytes = File.ReadAllBytes(Path.Combine(dir, f));
            var value = Absurd[r.Next(Absurd.Length)];
            if (value == bytes.Length - 8) value++;
            LengthPrefix.Write(bytes, value);
            ImageForge.RewriteFile(dir, f, bytes);
            return new($"{f}: length prefix set to {value}, sealed", null, true);
        }),
        new("sealed-resize", true, (dir, r, img) =>
        {
            var f = Pick(r, img.Files.Where(n => n != ImageManifest.FileName).ToList());
            var bytes = File.ReadAllBytes(Path.Combine(dir, f));
            var length = Math.Max(8, bytes.Length + (r.Next(2) == 0 ? -r.Next(1, Math.Max(2, bytes.Length - 8)) : r.Next(1, 70000)));
            Array.Resize(ref bytes, length);
            LengthPrefix.Write(bytes, length - 8);
            ImageForge.RewriteFile(dir, f, bytes);
            return new($"{f}: resized to {length} bytes with a matching prefix, sealed", null, true);
        }),
        new("sealed-wire-type", true, (dir, r, img) =>
        {
            var f = Pick(r, MessageFilesOf(img));
            var bytes = File.ReadAllBytes(Path.Combine(dir, f));
            var at = r.Next(8, bytes.Length);
            var before = bytes[at];
            bytes[at] = (byte)((before & ~7) | ((before & 7) + r.Next(1, 8)) % 8);
            ImageForge.RewriteFile(dir, f, bytes);
            return new($"{f}: wire type bits of byte {at} changed (0x{before:x2} -> 0x{bytes[at]:x2}), sealed", null, false);
        }),
        new("sealed-field", true, (dir, r, img) =>
        {
            var f = Pick(r, MessageFilesOf(img));
            var kind = ImageFileName.Parse(f).Kind;
            var bytes = File.ReadAllBytes(Path.Combine(dir, f));
            var message = MessageFiles.ParseAny(f, bytes, MessageFiles.ParserFor(kind)!);
            var what = MutateField(message, r, out var mustRefuse);
            ImageForge.RewriteFile(dir, f, ImageForge.WithPrefix(message.ToByteArray()));
            return new($"{f}: {what}, sealed", null, mustRefuse);
        }),
        new("sealed-contents", true, (dir, r, img) =>
        {
            var pages = img.Files.Where(n => ImageFileName.TryParse(n)?.Kind.IsPages() == true).ToList();
            var f = Pick(r, pages);
            var bytes = File.ReadAllBytes(Path.Combine(dir, f));
            var at = r.NextInt64(8, bytes.Length);
            bytes[at] ^= (byte)r.Next(1, 256);
            ImageForge.RewriteFile(dir, f, bytes);
            return new($"{f}: content byte {at} changed, sealed (only a signature can tell)", null, false);
        }),
        new("sealed-manifest", true, (dir, r, img) =>
        {
            var (what, mustRefuse) = ManifestEdits.Apply(dir, r, img);
            return new($"manifest.json: {what}, sealed", null, mustRefuse);
        }),
    ];

    private static T Pick<T>(Random r, IReadOnlyList<T> items) => items[r.Next(items.Count)];

    private static List<string> MessageFilesOf(RealImage img) =>
        img.Files.Where(n => ImageFileName.TryParse(n) is { } k && !k.Kind.IsPages()).ToList();

    /// <summary>Sets one field anywhere in the message to an absurd value, or duplicates or drops a repeated entry.</summary>
    private static string MutateField(IMessage message, Random r, out bool mustRefuse)
    {
        var slots = new List<(IMessage Owner, FieldDescriptor Field, string Path)>();
        Collect(message, "", slots);
        var (owner, field, path) = slots[r.Next(slots.Count)];
        mustRefuse = false;
        if (field.IsRepeated)
        {
            var list = (System.Collections.IList)field.Accessor.GetValue(owner);
            if (list.Count == 0 || r.Next(2) == 0)
            {
                if (list.Count == 0) return $"{path} left empty";
                var drop = r.Next(list.Count);
                list.RemoveAt(drop);
                // Every counted list (device, BO and VM entries) has its count beside it.
                mustRefuse = field.Name is "device_entries" or "bo_entries" or "vm_entries";
                return $"{path}[{drop}] removed";
            }
            var dup = r.Next(list.Count);
            list.Add(list[dup]);
            mustRefuse = field.Name is "device_entries" or "bo_entries" or "vm_entries";
            return $"{path}[{dup}] duplicated";
        }
        var value = AbsurdU[r.Next(AbsurdU.Length)];
        object boxed = field.FieldType switch
        {
            FieldType.UInt32 => (uint)value,
            FieldType.UInt64 => value,
            FieldType.Bytes => ByteString.CopyFrom(new byte[(int)(value % 64)]),
            _ => throw new InvalidOperationException($"field type {field.FieldType} of {path}"),
        };
        field.Accessor.SetValue(owner, boxed);
        mustRefuse = field.Name is "num_of_gpus" or "num_of_bos" or "num_of_vms" && value > 1000;
        return $"{path} set to {boxed}";
    }

    private static void Collect(IMessage m, string path, List<(IMessage, FieldDescriptor, string)> slots)
    {
        foreach (var field in m.Descriptor.Fields.InFieldNumberOrder())
        {
            var name = path + field.Name;
            if (field.IsRepeated)
            {
                if (field.FieldType != FieldType.Message) continue;
                slots.Add((m, field, name));
                var i = 0;
                foreach (var item in (System.Collections.IEnumerable)field.Accessor.GetValue(m)) Collect((IMessage)item, $"{name}[{i++}].", slots);
            }
            else if (field.FieldType == FieldType.Message) Collect((IMessage)field.Accessor.GetValue(m), name + ".", slots);
            else slots.Add((m, field, name));
        }
    }

    [LibraryImport("libc", EntryPoint = "mkfifo", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MkFifo(string path, uint mode);
}
