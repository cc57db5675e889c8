/**
 * The lab stack's config moved onto the test network: the same masters (names, roles), keys and
 * figures, with the control plane's addresses (tests/helpers/controlPlane) in place of the
 * lab's 10.0.20.x, so the command lines the program builds point at hosts that exist here.
 */
import { loadTopology, Topology } from "@ha-control-plane/topology";
import { hostAddress } from "../../helpers/controlPlane/hosts";
import { masterAddress, TEST_VIP } from "../../helpers/controlPlane/controlPlane";
import { labConfig } from "../../helpers/program";
import { readProjectFile } from "../../../components/projectFiles";

export type RawEdit = (raw: Record<string, any>) => void;

/** The stack config's values (keys without the project prefix), the secrets as labConfig's placeholders. */
export function testRawConfig(targetPhase = "7", edit?: RawEdit): Record<string, any> {
    const raw = JSON.parse(JSON.stringify(labConfig(targetPhase).raw)) as Record<string, any>;
    raw.cluster = { ...raw.cluster, subnet: `${hostAddress(0)}/24`, gateway: hostAddress(1), vip: TEST_VIP, metallbPool: `${hostAddress(200)}-${hostAddress(220)}`, dnsServers: [hostAddress(1)] };
    raw.masters = (raw.masters as Record<string, unknown>[]).map((m, i) => ({ ...m, ip: masterAddress(i) }));
    raw.loadBalancer = { ...raw.loadBalancer, host: hostAddress(1) };
    raw.dns = { ...raw.dns, server: hostAddress(1), staleRecords: [] };
    edit?.(raw);
    return raw;
}

const SECRET_FIELDS = ["apiToken", "privateKey", "tsigSecret", "kubeconfig"];

/** The config without its secrets, and the secrets by --path key (for `pulumi config set --secret`). */
export function splitSecrets(raw: Record<string, any>): { plain: Record<string, any>; secrets: Record<string, string> } {
    const plain = JSON.parse(JSON.stringify(raw)) as Record<string, any>;
    const secrets: Record<string, string> = {};
    for (const [key, value] of Object.entries(plain)) {
        if (!value || typeof value !== "object" || Array.isArray(value)) continue;
        for (const field of SECRET_FIELDS) {
            if (typeof value[field] === "string") secrets[`${key}.${field}`] = value[field];
            delete value[field];
        }
    }
    return { plain, secrets };
}

/** The validated topology of that config. */
export function testTopology(targetPhase = "7", edit?: RawEdit): Topology {
    return loadTopology(testRawConfig(targetPhase, edit), { project: "ha-control-plane", stack: "lab", readProjectFile });
}
