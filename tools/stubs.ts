/**
 * Realistic stand-ins for what the real providers compute, so the offline plan and the tests see
 * values of the right shape. Keyed by resource type.
 */
import { createHash } from "crypto";

function digest(seed: string, length: number): string {
    return createHash("sha256").update(seed).digest("hex").slice(0, length);
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
            return { id: `${name}-${digest(name, 8)}`, extra: { stdout: "", stderr: "" } };
        default:
            return { id: `${name}-${digest(type + name, 8)}`, extra: {} };
    }
}
