import { spawnSync } from "child_process";

/** A certificate's SANs as DNS:name / IP:address, sorted (openssl's reading, as retrofit.sh's). */
export function certSans(pem: string | Buffer): string[] {
    const out = spawnSync("openssl", ["x509", "-noout", "-ext", "subjectAltName"], { input: pem, encoding: "utf8" });
    if (out.status !== 0) throw new Error(`openssl x509: ${out.stderr}`);
    return out.stdout
        .split("\n")
        .slice(1)
        .join(",")
        .split(",")
        .map((s) => s.trim().replace(/^IP Address:/, "IP:"))
        .filter(Boolean)
        .sort();
}

/** The end of a certificate's validity, from openssl. */
export function certNotAfter(pem: string | Buffer): Date {
    const out = spawnSync("openssl", ["x509", "-noout", "-enddate"], { input: pem, encoding: "utf8" });
    return new Date(out.stdout.trim().replace(/^notAfter=/, ""));
}
