/**
 * Secret material in the resource graph. Policies cannot see which values Pulumi marks secret
 * (the engine hands them over in clear), so the rule is built from what they can see: which
 * resources make secrets, which inputs flow from them (property dependencies), and values that
 * have the shape of a credential where only plain text belongs.
 */

/** Resource types whose outputs their provider marks secret (the join's bootstrap token secret and certificate key). */
export const SECRET_OUTPUT_TYPES: readonly string[] = [
    "random:index/randomPassword:RandomPassword",
    "random:index/randomBytes:RandomBytes",
    "tls:index/privateKey:PrivateKey",
];

/** The one input a command may carry a secret in: stdin, which the program marks secret and never logs. */
export const SECRET_CARRYING_INPUTS: readonly string[] = ["stdin"];

/** Inputs a remote command's provider consumes itself (SSH credentials); they never reach the remote process. */
export const PROVIDER_CREDENTIAL_INPUTS: readonly string[] = ["connection"];

const PATTERNS: readonly { readonly what: string; readonly pattern: RegExp }[] = [
    { what: "a private key", pattern: /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/ },
    { what: "a kubeadm bootstrap token", pattern: /(--token[ =]|KUBEADM_TOKEN=['"]?|token:\s*['"]?)[a-z0-9]{6}\.[a-z0-9]{16}\b/ },
    { what: "a kubeadm certificate key", pattern: /(--certificate-key[ =]|KUBEADM_CERTIFICATE_KEY=['"]?|certificateKey:\s*['"]?)[0-9a-f]{64}\b/ },
    { what: "a TSIG secret", pattern: /(-y\s+(hmac-[a-z0-9]+:)?[A-Za-z0-9.-]+:[A-Za-z0-9+/]{16,}={0,2}|secret\s+"[A-Za-z0-9+/]{16,}={0,2}")/ },
];

/** What credential a text visibly holds, or undefined. */
export function findSecretMaterial(text: string): string | undefined {
    return PATTERNS.find((p) => p.pattern.test(text))?.what;
}
