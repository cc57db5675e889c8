/**
 * Realistic stand-ins for what the real providers compute, so the offline plan and the tests see
 * values of the right shape. Keyed by resource type.
 */
import { createHash } from "crypto";
import { secretOnTheWire } from "./sdkInternals";

function digest(seed: string, length: number): string {
    return createHash("sha256").update(seed).digest("hex").slice(0, length);
}

/** Lowercase letters and digits, as @pulumi/random makes them with upper/special off. */
function alnum(seed: string, length: number): string {
    const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
    const bytes = createHash("sha256").update(seed).digest();
    return Array.from({ length }, (_, i) => alphabet[bytes[i % bytes.length] % alphabet.length]).join("");
}

export interface StubOutputs {
    readonly id: string;
    readonly extra: Record<string, unknown>;
}

export function stubOutputs(type: string, name: string, inputs: Record<string, unknown>): StubOutputs {
    switch (type) {
        case "proxmoxve:index/vmLegacy:VmLegacy":
            return { id: String(inputs.vmId ?? 100), extra: { ipv4Addresses: [], macAddresses: [] } };
        case "proxmoxve:index/fileLegacy:FileLegacy": {
            const raw = inputs.sourceRaw as { fileName?: string } | undefined;
            const id = `${String(inputs.datastoreId)}:${String(inputs.contentType)}/${raw?.fileName ?? name}`;
            return { id, extra: { fileName: raw?.fileName ?? name } };
        }
        case "command:remote:Command":
        case "command:local:Command":
            // join-material.sh prints one JSON line the join reads (topology/kubeadm.ts JoinMaterial).
            if (name.endsWith("-join-material")) {
                const stdout = JSON.stringify({ caCertHash: `sha256:${digest(`ca${name}`, 64)}`, tokenExpires: "2030-01-01T00:30:00Z", tokenId: alnum(`${name}-token-id`, 6) });
                return { id: `${name}-${digest(name, 8)}`, extra: { stdout: secretOnTheWire(stdout), stderr: secretOnTheWire("") } };
            }
            return { id: `${name}-${digest(name, 8)}`, extra: { stdout: "", stderr: "" } };
        // @pulumi/random: the outputs the provider marks secret are secret here too.
        case "random:index/randomString:RandomString":
            return { id: "none", extra: { result: alnum(name, Number(inputs.length ?? 16)) } };
        case "random:index/randomPassword:RandomPassword": {
            const result = alnum(`password${name}`, Number(inputs.length ?? 16));
            return { id: "none", extra: { result: secretOnTheWire(result), bcryptHash: secretOnTheWire(`$2a$10$${digest(result, 53)}`) } };
        }
        case "random:index/randomBytes:RandomBytes": {
            const hex = digest(`bytes${name}`, 2 * Number(inputs.length ?? 32)).padEnd(2 * Number(inputs.length ?? 32), "0");
            return { id: "none", extra: { hex: secretOnTheWire(hex), base64: secretOnTheWire(Buffer.from(hex, "hex").toString("base64")) } };
        }
        default:
            return { id: `${name}-${digest(type + name, 8)}`, extra: {} };
    }
}
