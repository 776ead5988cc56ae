namespace Gpuckpt.Engine.Images;

/// <summary>The kinds of .img file an image holds (CRIU amdgpu plugin names).</summary>
public enum ImageFileKind
{
    /// <summary><c>amdgpu-kfd-&lt;id&gt;.img</c>: a CriuKfd message.</summary>
    Kfd,

    /// <summary><c>amdgpu-pages-&lt;id&gt;-&lt;gpuid&gt;.img</c>: one GPU's VRAM/GTT BO contents in bucket order.</summary>
    KfdPages,

    /// <summary><c>amdgpu-renderD-&lt;id&gt;.img</c>: a CriuRenderNode message.</summary>
    RenderNode,

    /// <summary><c>amdgpu-drm-pages-&lt;id&gt;-&lt;minor&gt;-&lt;bo&gt;.img</c>: contents of one non-import render BO.</summary>
    DrmPages,

    /// <summary><c>amdgpu-dmabuf_&lt;id&gt;.img</c>: a CriuDmabufNode message.</summary>
    Dmabuf,
}
