using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Gpuckpt.Engine.Images;
using Gpuckpt.Engine.Native;

namespace Gpuckpt.Engine.Trust;

/// <summary>
/// A cluster's certificate authority and the identities it issued, kept in one directory (0700): <c>ca.crt</c> and
/// <c>ca.key</c>, then <c>NAME.crt</c> and <c>NAME.key</c> for each node and for the CLI (keys 0600; a key others can
/// read is refused). A peer is one of the cluster's when its certificate chains to this CA and is within its validity.
/// The CA key may be absent (a node that only holds its own identity): then nothing new can be issued.
/// </summary>
public sealed class ClusterAuthority
{
    public const string CaCertificateFile = "ca.crt";
    public const string CaKeyFile = "ca.key";
    private static readonly TimeSpan CaValidity = TimeSpan.FromDays(3650);
    private static readonly TimeSpan IdentityValidity = TimeSpan.FromDays(825);
    private readonly ECDsa? _caKey;

    private ClusterAuthority(string dir, X509Certificate2 ca, ECDsa? caKey)
    {
        Directory = dir;
        Certificate = ca;
        _caKey = caKey;
    }

    public string Directory { get; }

    /// <summary>The CA's certificate (public): what every node trusts.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>True when the CA's private key is here, so identities can be issued.</summary>
    public bool CanIssue => _caKey is not null;

    /// <summary>Creates a new CA in <paramref name="dir"/>; refuses a directory that already holds one.</summary>
    public static ClusterAuthority Create(string dir, string clusterName = "gpuckpt")
    {
        PrepareDirectory(dir);
        var certPath = Path.Combine(dir, CaCertificateFile);
        if (File.Exists(certPath)) throw new TrustException($"{dir} already holds a cluster CA ({CaCertificateFile})");
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={Escape(clusterName)} cluster CA, O=gpuckpt"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        // Valid from a day back: a node whose clock runs behind the issuer's still accepts it.
        using var ca = request.CreateSelfSigned(now.AddDays(-1), now + CaValidity);
        WriteKey(Path.Combine(dir, CaKeyFile), key);
        WritePublic(certPath, ca.ExportCertificatePem());
        return new ClusterAuthority(dir, X509Certificate2.CreateFromPem(ca.ExportCertificatePem()), key);
    }

    /// <summary>Opens the CA of <paramref name="dir"/> (its key too, when it is there).</summary>
    public static ClusterAuthority Open(string dir)
    {
        var certPath = Path.Combine(dir, CaCertificateFile);
        if (!File.Exists(certPath))
            throw new TrustException($"{dir} holds no cluster CA ({CaCertificateFile}): run `gpuckpt cluster init --dir {dir}`");
        var ca = X509Certificate2.CreateFromPem(File.ReadAllText(certPath));
        var keyPath = Path.Combine(dir, CaKeyFile);
        return new ClusterAuthority(dir, ca, File.Exists(keyPath) ? ReadKey(keyPath) : null);
    }

    /// <summary>Opens the CA of <paramref name="dir"/>, creating one first when the directory holds none.</summary>
    public static ClusterAuthority OpenOrCreate(string dir) =>
        File.Exists(Path.Combine(dir, CaCertificateFile)) ? Open(dir) : Create(dir);

    /// <summary>The file name stem of an identity (a node name may hold characters a file name should not).</summary>
    public static string FileStem(string identity) =>
        new(identity.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_').ToArray());

    /// <summary>
    /// The certificate (with its private key) of <paramref name="identity"/>: the one issued before, or a new one when
    /// none is here and this CA can issue.
    /// </summary>
    public X509Certificate2 IdentityFor(string identity)
    {
        var (certPath, keyPath) = IdentityPaths(identity);
        if (File.Exists(certPath) && File.Exists(keyPath)) return LoadIdentity(certPath, keyPath);
        if (!CanIssue)
            throw new TrustException($"{Directory} holds no certificate for {identity} and not the CA's key to issue one: " +
                                     $"run `gpuckpt cluster add-node {identity} --dir DIR` where the CA's key is, and copy " +
                                     $"{Path.GetFileName(certPath)}, {Path.GetFileName(keyPath)} and {CaCertificateFile} here");
        return Issue(identity);
    }

    /// <summary>Issues a certificate for <paramref name="identity"/> and keeps it (and its key, 0600) in the directory.</summary>
    public X509Certificate2 Issue(string identity, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null)
    {
        if (_caKey is null) throw new TrustException($"{Directory} holds no CA key ({CaKeyFile}): certificates are issued where it is");
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={Escape(identity)}, O=gpuckpt"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true));
        // Every member both accepts connections and opens them: server and client authentication.
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(FileStem(identity));
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, true, false));
        var from = notBefore ?? DateTimeOffset.UtcNow.AddHours(-1);
        var until = notAfter ?? from + IdentityValidity;
        if (until > Certificate.NotAfter) until = Certificate.NotAfter;
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        using var issuer = Certificate.CopyWithPrivateKey(_caKey);
        using var issued = request.Create(issuer, from, until, serial);
        var (certPath, keyPath) = IdentityPaths(identity);
        WriteKey(keyPath, key);
        WritePublic(certPath, issued.ExportCertificatePem());
        return LoadIdentity(certPath, keyPath);
    }

    /// <summary>Null when <paramref name="peer"/> is one of this cluster's (issued by this CA, valid now); else why not.</summary>
    public string? Check(X509Certificate? peer)
    {
        if (peer is null) return "the peer presented no certificate";
        using var cert = new X509Certificate2(peer);
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(Certificate);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = DateTime.Now;
        if (chain.Build(cert) && chain.ChainElements[^1].Certificate.Thumbprint == Certificate.Thumbprint) return null;
        var problems = chain.ChainStatus.Select(s => s.Status).Where(s => s != X509ChainStatusFlags.NoError).ToList();
        if (problems.Contains(X509ChainStatusFlags.NotTimeValid))
            return $"the certificate of {cert.GetNameInfo(X509NameType.SimpleName, false)} is not valid now (valid {cert.NotBefore:u} to {cert.NotAfter:u})";
        return $"the certificate of {cert.GetNameInfo(X509NameType.SimpleName, false)} (issued by {cert.Issuer}) is not from this cluster's CA" +
               (problems.Count > 0 ? $" ({string.Join(", ", problems)})" : "");
    }

    private (string Cert, string Key) IdentityPaths(string identity)
    {
        var stem = FileStem(identity);
        if (stem is "ca") throw new TrustException("'ca' names the cluster's CA, not an identity");
        return (Path.Combine(Directory, stem + ".crt"), Path.Combine(Directory, stem + ".key"));
    }

    private static X509Certificate2 LoadIdentity(string certPath, string keyPath)
    {
        var key = ReadKey(keyPath);
        using var cert = X509Certificate2.CreateFromPem(File.ReadAllText(certPath));
        using var withKey = cert.CopyWithPrivateKey(key);
        // A PKCS#12 round trip gives a certificate whose key TLS stacks can use on every platform.
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    private static void PrepareDirectory(string dir)
    {
        System.IO.Directory.CreateDirectory(dir);
        if (Libc.Chmod(dir, ImageFiles.DirectoryMode) != 0) throw new TrustException($"{dir}: chmod 0700 failed: errno {Libc.LastErrno}");
    }

    private static ECDsa ReadKey(string path)
    {
        var stat = Libc.StatPath(path) ?? throw new TrustException($"{path}: no such key file");
        if ((stat.Mode & Libc.S_IFMT) != Libc.S_IFREG) throw new TrustException($"{path}: a key must be a regular file");
        if ((stat.Mode & 0x3f) != 0)
            throw new TrustException($"{path}: the private key is readable by others (mode 0{Convert.ToString(stat.Mode & 0x1ff, 8)}); chmod 600 it");
        var key = ECDsa.Create();
        key.ImportFromPem(File.ReadAllText(path));
        return key;
    }

    private static void WriteKey(string path, ECDsa key)
    {
        using (var handle = ImageFiles.OpenWrite(path, FileMode.CreateNew, FileAccess.Write))
        {
            RandomAccess.Write(handle, Encoding.ASCII.GetBytes(key.ExportPkcs8PrivateKeyPem() + "\n"), 0);
            FileSync.File(handle, path);
        }
    }

    private static void WritePublic(string path, string pem)
    {
        var tmp = path + ".tmp";
        File.WriteAllText(tmp, pem + "\n");
        File.Move(tmp, path, overwrite: true);
    }

    private static string Escape(string value) => value.Replace("\\", "\\\\").Replace(",", "\\,").Replace("+", "\\+").Replace("=", "\\=");
}
