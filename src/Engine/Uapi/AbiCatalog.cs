using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace Gpuckpt.Engine.Uapi;

/// <summary>
/// Every struct, ioctl request number and constant of the kernel interface the engine declares, under its C name:
/// what mainline Linux defines (the engine speaks only these) and, as design history, the render-node CRIU proposals
/// of the seed documents. A test compiles the same names against the C declarations and compares; <c>gpuckpt abi</c> prints it.
/// </summary>
public static class AbiCatalog
{
    private const string Kfd = "linux/kfd_ioctl.h", KfdSysfsH = "linux/kfd_sysfs.h", Drm = "drm/drm.h";
    private const string DrmMainline = "drm/drm.h (mainline; newer than Debian 12's)", Amdgpu = "drm/amdgpu_drm.h (mainline)";
    private const string Seed000 = ProposalPrefix + "seed 000, one amdgpu CRIU op";
    private const string BoInfoSeries = ProposalPrefix + "seed 003's series, CRIU_BO_INFO/MAPPING_INFO (v9)";

    /// <summary>Origins of the interfaces Linux did not merge: kept as design history, never issued by the engine.</summary>
    public const string ProposalPrefix = "proposal, not merged: ";

    public static bool IsProposal(string origin) => origin.StartsWith(ProposalPrefix, StringComparison.Ordinal);

    public static IReadOnlyList<AbiStruct> Structs { get; } =
    [
        Struct<KfdIoctlGetVersionArgs>("kfd_ioctl_get_version_args", Kfd),
        Struct<KfdIoctlCriuArgs>("kfd_ioctl_criu_args", Kfd),
        Struct<KfdCriuDeviceBucket>("kfd_criu_device_bucket", Kfd),
        Struct<KfdCriuBoBucket>("kfd_criu_bo_bucket", Kfd),
        Struct<DrmGemClose>("drm_gem_close", Drm),
        Struct<DrmPrimeHandle>("drm_prime_handle", Drm),
        Struct<DrmGemChangeHandle>("drm_gem_change_handle", DrmMainline),
        Union<DrmAmdgpuGemCreate>("drm_amdgpu_gem_create", Amdgpu,
            ("in.bo_size", nameof(DrmAmdgpuGemCreate.bo_size)), ("in.alignment", nameof(DrmAmdgpuGemCreate.alignment)),
            ("in.domains", nameof(DrmAmdgpuGemCreate.domains)), ("in.domain_flags", nameof(DrmAmdgpuGemCreate.domain_flags)),
            ("out.handle", nameof(DrmAmdgpuGemCreate.handle))),
        Union<DrmAmdgpuGemMmap>("drm_amdgpu_gem_mmap", Amdgpu,
            ("in.handle", nameof(DrmAmdgpuGemMmap.handle)), ("in._pad", nameof(DrmAmdgpuGemMmap._pad)),
            ("out.addr_ptr", nameof(DrmAmdgpuGemMmap.addr_ptr))),
        Struct<DrmAmdgpuGemVa>("drm_amdgpu_gem_va", Amdgpu),
        Struct<DrmAmdgpuGemOp>("drm_amdgpu_gem_op", Amdgpu),
        Struct<DrmAmdgpuGemVmEntry>("drm_amdgpu_gem_vm_entry", Amdgpu),
        Struct<DrmAmdgpuGemListHandles>("drm_amdgpu_gem_list_handles", Amdgpu),
        Struct<DrmAmdgpuGemListHandlesEntry>("drm_amdgpu_gem_list_handles_entry", Amdgpu),
        Union<DrmAmdgpuCtx>("drm_amdgpu_ctx", Amdgpu,
            ("in.op", nameof(DrmAmdgpuCtx.op)), ("in.flags", nameof(DrmAmdgpuCtx.flags)),
            ("in.ctx_id", nameof(DrmAmdgpuCtx.ctx_id)), ("in.priority", nameof(DrmAmdgpuCtx.priority))),
        Union<DrmAmdgpuCs>("drm_amdgpu_cs", Amdgpu,
            ("in.ctx_id", nameof(DrmAmdgpuCs.ctx_id)), ("in.bo_list_handle", nameof(DrmAmdgpuCs.bo_list_handle)),
            ("in.num_chunks", nameof(DrmAmdgpuCs.num_chunks)), ("in.flags", nameof(DrmAmdgpuCs.flags)), ("in.chunks", nameof(DrmAmdgpuCs.chunks))),
        Struct<DrmAmdgpuCsChunk>("drm_amdgpu_cs_chunk", Amdgpu),
        Struct<DrmAmdgpuCsChunkIb>("drm_amdgpu_cs_chunk_ib", Amdgpu),
        Union<DrmAmdgpuWaitCs>("drm_amdgpu_wait_cs", Amdgpu,
            ("in.handle", nameof(DrmAmdgpuWaitCs.handle)), ("in.timeout", nameof(DrmAmdgpuWaitCs.timeout)),
            ("in.ip_type", nameof(DrmAmdgpuWaitCs.ip_type)), ("in.ip_instance", nameof(DrmAmdgpuWaitCs.ip_instance)),
            ("in.ring", nameof(DrmAmdgpuWaitCs.ring)), ("in.ctx_id", nameof(DrmAmdgpuWaitCs.ctx_id))),
        Struct<DrmAmdgpuBoListIn>("drm_amdgpu_bo_list_in", Amdgpu),
        Struct<DrmAmdgpuBoListEntry>("drm_amdgpu_bo_list_entry", Amdgpu),
        Struct<DrmAmdgpuCriuArgs>("drm_amdgpu_criu_args", Seed000),
        // Seed 000 and the later series both name their bucket drm_amdgpu_criu_bo_bucket; seed 000's keeps an _op_ infix here.
        Struct<DrmAmdgpuCriuOpBoBucket>("drm_amdgpu_criu_op_bo_bucket", Seed000),
        Struct<DrmAmdgpuCriuBoPrivData>("drm_amdgpu_criu_bo_priv_data", Seed000),
        Struct<DrmAmdgpuCriuVmMappingPrivData>("drm_amdgpu_criu_vm_mapping_priv_data", Seed000),
        Struct<DrmAmdgpuCriuBoInfoArgs>("drm_amdgpu_criu_bo_info_args", BoInfoSeries),
        Struct<DrmAmdgpuCriuBoBucket>("drm_amdgpu_criu_bo_bucket", BoInfoSeries),
        Struct<DrmAmdgpuCriuMappingInfoArgs>("drm_amdgpu_criu_mapping_info_args", BoInfoSeries),
        Struct<DrmAmdgpuCriuVmBucket>("drm_amdgpu_criu_vm_bucket", BoInfoSeries),
    ];

    public static IReadOnlyList<AbiValue> Ioctls { get; } =
    [
        new("AMDKFD_IOC_GET_VERSION", KfdIoctls.GetVersion, Kfd),
        new("AMDKFD_IOC_CRIU_OP", KfdIoctls.CriuOp, Kfd),
        new("DRM_IOCTL_GEM_CLOSE", DrmIoctls.GemClose, Drm),
        new("DRM_IOCTL_PRIME_HANDLE_TO_FD", DrmIoctls.PrimeHandleToFd, Drm),
        new("DRM_IOCTL_PRIME_FD_TO_HANDLE", DrmIoctls.PrimeFdToHandle, Drm),
        new("DRM_IOCTL_GEM_CHANGE_HANDLE", DrmIoctls.GemChangeHandle, DrmMainline),
        new("DRM_IOCTL_AMDGPU_GEM_CREATE", DrmIoctls.AmdgpuGemCreate, Amdgpu),
        new("DRM_IOCTL_AMDGPU_GEM_MMAP", DrmIoctls.AmdgpuGemMmap, Amdgpu),
        new("DRM_IOCTL_AMDGPU_CTX", DrmIoctls.AmdgpuCtx, Amdgpu),
        new("DRM_IOCTL_AMDGPU_CS", DrmIoctls.AmdgpuCs, Amdgpu),
        new("DRM_IOCTL_AMDGPU_WAIT_CS", DrmIoctls.AmdgpuWaitCs, Amdgpu),
        new("DRM_IOCTL_AMDGPU_GEM_VA", DrmIoctls.AmdgpuGemVa, Amdgpu),
        new("DRM_IOCTL_AMDGPU_GEM_OP", DrmIoctls.AmdgpuGemOp, Amdgpu),
        new("DRM_IOCTL_AMDGPU_GEM_LIST_HANDLES", DrmIoctls.AmdgpuGemListHandles, Amdgpu),
        new("DRM_IOCTL_AMDGPU_CRIU_OP", AmdgpuCriuProposals.CriuOp, Seed000),
        new("DRM_IOCTL_AMDGPU_CRIU_BO_INFO", AmdgpuCriuProposals.CriuBoInfo, BoInfoSeries),
        new("DRM_IOCTL_AMDGPU_CRIU_MAPPING_INFO", AmdgpuCriuProposals.CriuMappingInfo, BoInfoSeries),
    ];

    public static IReadOnlyList<AbiValue> Constants { get; } =
    [
        .. Enum<KfdCriuOp>("KFD_CRIU_OP_", Kfd),
        .. Enum<DrmAmdgpuCriuOp>("AMDGPU_CRIU_OP_", Seed000),
        .. Enum<KfdAllocFlags>("KFD_IOC_ALLOC_MEM_FLAGS_", Kfd).Where(v => v.Value != 0),
        new("AMDGPU_CRIU_BO_FLAG_IS_IMPORT", AmdgpuCriuProposals.BoFlagIsImport, BoInfoSeries),
        new("AMDGPU_CRIU_BO_FLAG_SKIP", AmdgpuCriuProposals.BoFlagSkip, Seed000),
        new("AMDGPU_GEM_DOMAIN_CPU", AmdgpuGem.DomainCpu, Amdgpu),
        new("AMDGPU_GEM_DOMAIN_GTT", AmdgpuGem.DomainGtt, Amdgpu),
        new("AMDGPU_GEM_DOMAIN_VRAM", AmdgpuGem.DomainVram, Amdgpu),
        new("AMDGPU_GEM_DOMAIN_GDS", AmdgpuGem.DomainGds, Amdgpu),
        new("AMDGPU_GEM_DOMAIN_GWS", AmdgpuGem.DomainGws, Amdgpu),
        new("AMDGPU_GEM_DOMAIN_OA", AmdgpuGem.DomainOa, Amdgpu),
        new("AMDGPU_VA_OP_MAP", AmdgpuGem.VaOpMap, Amdgpu),
        new("AMDGPU_VA_OP_UNMAP", AmdgpuGem.VaOpUnmap, Amdgpu),
        new("AMDGPU_VA_OP_CLEAR", AmdgpuGem.VaOpClear, Amdgpu),
        new("AMDGPU_VA_OP_REPLACE", AmdgpuGem.VaOpReplace, Amdgpu),
        new("AMDGPU_VM_PAGE_READABLE", AmdgpuGem.VmPageReadable, Amdgpu),
        new("AMDGPU_VM_PAGE_WRITEABLE", AmdgpuGem.VmPageWriteable, Amdgpu),
        new("AMDGPU_VM_PAGE_EXECUTABLE", AmdgpuGem.VmPageExecutable, Amdgpu),
        new("AMDGPU_VM_PAGE_PRT", AmdgpuGem.VmPagePrt, Amdgpu),
        new("AMDGPU_GEM_OP_GET_GEM_CREATE_INFO", AmdgpuGem.GemOpGetGemCreateInfo, Amdgpu),
        new("AMDGPU_GEM_OP_SET_PLACEMENT", AmdgpuGem.GemOpSetPlacement, Amdgpu),
        new("AMDGPU_GEM_OP_GET_MAPPING_INFO", AmdgpuGem.GemOpGetMappingInfo, Amdgpu),
        new("AMDGPU_GEM_CREATE_CPU_ACCESS_REQUIRED", AmdgpuGem.CreateCpuAccessRequired, Amdgpu),
        new("AMDGPU_GEM_CREATE_NO_CPU_ACCESS", AmdgpuGem.CreateNoCpuAccess, Amdgpu),
        new("AMDGPU_CTX_OP_ALLOC_CTX", AmdgpuCs.CtxOpAllocCtx, Amdgpu),
        new("AMDGPU_CTX_OP_FREE_CTX", AmdgpuCs.CtxOpFreeCtx, Amdgpu),
        new("AMDGPU_CHUNK_ID_IB", AmdgpuCs.ChunkIdIb, Amdgpu),
        new("AMDGPU_CHUNK_ID_BO_HANDLES", AmdgpuCs.ChunkIdBoHandles, Amdgpu),
        new("AMDGPU_HW_IP_DMA", AmdgpuCs.HwIpDma, Amdgpu),
        new("AMDGPU_GEM_LIST_HANDLES_FLAG_IS_IMPORT", AmdgpuGem.ListHandlesFlagIsImport, Amdgpu),
        new("DRM_CLOEXEC", AmdgpuGem.DrmCloexec, Drm),
        new("DRM_RDWR", AmdgpuGem.DrmRdwr, Drm),
        new("HSA_CAP_DOORBELL_TYPE_TOTALBITS_MASK", KfdSysfs.CapDoorbellTypeMask, KfdSysfsH),
        new("HSA_CAP_AQL_QUEUE_DOUBLE_MAP", KfdSysfs.CapAqlQueueDoubleMap, KfdSysfsH),
        new("HSA_CAP_SVMAPI_SUPPORTED", KfdSysfs.CapSvmApiSupported, KfdSysfsH),
        new("HSA_MEM_HEAP_TYPE_FB_PUBLIC", KfdSysfs.HeapTypeFrameBufferPublic, KfdSysfsH),
        new("HSA_MEM_HEAP_TYPE_FB_PRIVATE", KfdSysfs.HeapTypeFrameBufferPrivate, KfdSysfsH),
    ];

    /// <summary><c>{"structs":{NAME:{"size":N,"fields":{FIELD:OFFSET}}},"ioctls":{NAME:NUMBER},"constants":{NAME:VALUE}}</c>.</summary>
    public static string ToJson(bool indented = false)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = indented }))
        {
            json.WriteStartObject();
            json.WriteStartObject("structs");
            foreach (var s in Structs)
            {
                json.WriteStartObject(s.Name);
                json.WriteNumber("size", s.Size);
                json.WriteStartObject("fields");
                foreach (var f in s.Fields) json.WriteNumber(f.CName, f.Offset);
                json.WriteEndObject();
                json.WriteEndObject();
            }
            json.WriteEndObject();
            WriteValues(json, "ioctls", Ioctls);
            WriteValues(json, "constants", Constants);
            json.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteValues(Utf8JsonWriter json, string name, IReadOnlyList<AbiValue> values)
    {
        json.WriteStartObject(name);
        foreach (var v in values) json.WriteNumber(v.Name, v.Value);
        json.WriteEndObject();
    }

    private static AbiStruct Struct<T>(string name, string origin) where T : unmanaged =>
        Describe<T>(name, "struct " + name, origin, []);

    private static AbiStruct Union<T>(string name, string origin, params (string CName, string CsName)[] members) where T : unmanaged =>
        Describe<T>(name, "union " + name, origin, members);

    private static AbiStruct Describe<T>(string name, string cType, string origin, (string CName, string CsName)[] members)
        where T : unmanaged
    {
        var type = typeof(T);
        var fields = type.GetFields(BindingFlags.Public | BindingFlags.Instance)
            .Select(f => new AbiField(
                members.FirstOrDefault(m => m.CsName == f.Name).CName ?? f.Name,
                f.Name,
                Marshal.OffsetOf(type, f.Name).ToInt64()))
            .OrderBy(f => f.Offset).ThenBy(f => f.CName, StringComparer.Ordinal)
            .ToArray();
        return new AbiStruct(name, cType, type, Sizes.Of<T>(), fields, origin);
    }

    /// <summary>An enum's members as C constants: <c>RestoreRetry</c> under prefix P becomes <c>P_RESTORE_RETRY</c>.</summary>
    private static IEnumerable<AbiValue> Enum<T>(string prefix, string origin) where T : struct, Enum =>
        System.Enum.GetValues<T>().Select(v => new AbiValue(prefix + CName(v.ToString()), Convert.ToUInt64(v), origin));

    private static string CName(string pascal) =>
        string.Concat(pascal.Select((c, i) => i > 0 && char.IsUpper(c) ? "_" + c : char.ToUpperInvariant(c).ToString()));
}
