/** Key `ssh`: how the program reaches the nodes (the private key is a secret, never held here). */
import type { SshConfig } from "../types";
import { Reader } from "./reader";

export function readSsh(r: Reader, value: unknown): SshConfig {
    const s = r.object(value, "ssh");
    r.secretPresent(s, "privateKey", "ssh.privateKey");
    const publicKey = r.string(s, "publicKey", "ssh.publicKey");
    if (publicKey && !/^(ssh-(ed25519|rsa)|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( .*)?$/.test(publicKey)) {
        r.fail("ssh.publicKey", publicKey, "must be an OpenSSH public key line (ssh-ed25519 AAAA... comment)");
    }
    return { user: r.string(s, "user", "ssh.user"), publicKey };
}
