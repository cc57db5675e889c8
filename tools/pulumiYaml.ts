/**
 * Pulumi.yaml, generated: every config key with its type (the CLI checks a stack's values
 * against it before the program runs), its default where the key may be left out, and a
 * description whose field defaults are the code's (topology/config/<key>.ts). The prose is
 * written here; the figures are not, so the file cannot drift from the code
 * (tests/tools/pulumiYaml.test.ts holds the file to this output).
 *
 *   npm run gen:pulumi-yaml              rewrite Pulumi.yaml
 *   npm run gen:pulumi-yaml -- --check   exit 1 when Pulumi.yaml differs from what the code gives
 */
import { readFileSync, writeFileSync } from "fs";
import * as path from "path";
import {
    CLUSTER_DEFAULTS,
    CONTROL_PLANE_FLAGS_DEFAULTS,
    CUTOVER_DEFAULTS,
    DEFAULT_KUBERNETES_VERSION,
    DEFAULT_TARGET_PHASE,
    DNS_DEFAULTS,
    ETCD_MAINTENANCE_DEFAULTS,
    EXISTING_MASTER_DEFAULTS,
    FIRST_KUBERNETES_API_PHASE,
    IPAM_DEFAULTS,
    IPAM_KINDS,
    KUBEADM_DEFAULTS,
    KURED_DEFAULTS,
    LOAD_BALANCER_DEFAULTS,
    LOAD_BALANCER_KINDS,
    MASTER_DEFAULTS,
    PHASE_IDS,
    PROXMOX_DEFAULTS,
    TSIG_ALGORITHMS,
    UPGRADE_DEFAULTS,
} from "@ha-control-plane/topology";

export const PULUMI_YAML = path.resolve(__dirname, "..", "Pulumi.yaml");

/** The types Pulumi's project schema knows (sdk/go/common/workspace/project.json, SimpleConfigType). */
export type PulumiConfigType = "string" | "integer" | "boolean" | "array" | "object";

/** One field of a structured key, as its description lists it. */
export interface FieldDoc {
    readonly name: string;
    /** May be left out: written `name?`. */
    readonly optional?: boolean;
    /** The values it takes, written `name: a | b`. */
    readonly choices?: readonly string[];
    /** The kind of load balancer (or other case) the field is for, written `(for: ...)`. */
    readonly for?: string;
    /** What the value is (a format, "secret"), before its default. */
    readonly what?: string;
    /**
     * The default, when the key's defaults object (ConfigKeyDoc.defaults) does not hold it under
     * this field's name. Give it from a code constant, never as a literal.
     */
    readonly default?: unknown;
    /** Why, or what it does, after the default. */
    readonly note?: string;
    /** An object: its fields, written `name: { ... }`. */
    readonly fields?: readonly FieldDoc[];
    /** A list of such objects: written `name: [ { ... } ]`. */
    readonly list?: boolean;
}

export interface ConfigKeyDoc {
    readonly type: PulumiConfigType;
    /** For arrays: the items' type. */
    readonly items?: PulumiConfigType;
    /** The key's own default, for a key the stack may leave out (Pulumi requires a typed key without one). */
    readonly default?: unknown;
    /** The code's defaults for the key's fields (topology/config/<key>.ts), looked up by field name. */
    readonly defaults?: object;
    readonly intro: string;
    /** The value's fields; a list key lists its items' fields. */
    readonly fields?: readonly FieldDoc[];
    readonly outro?: string;
}

const kubernetesMinorExample = (() => {
    const [major, minor] = DEFAULT_KUBERNETES_VERSION.split(".");
    return `v${major}.${minor} for ${major}.${minor}.x`;
})();

/** Every key the program reads, in the order Pulumi.yaml lists them. */
export const CONFIG_KEYS: Readonly<Record<string, ConfigKeyDoc>> = {
    targetPhase: {
        type: "string",
        default: DEFAULT_TARGET_PHASE,
        intro: `How far the migration goes: one of ${PHASE_IDS.join(", ")} (the seed plan's phase ids). Later phases are not registered at all; lowering it rolls phases back in reverse.`,
    },
    kubernetesVersion: {
        type: "string",
        default: DEFAULT_KUBERNETES_VERSION,
        intro: `MAJOR.MINOR.PATCH of the cluster. New masters get kubeadm/kubelet/kubectl of exactly this version from the pkgs.k8s.io channel of its minor (${kubernetesMinorExample}).`,
    },
    cluster: {
        type: "object",
        defaults: CLUSTER_DEFAULTS,
        intro: "The cluster network:",
        fields: [
            { name: "domain" },
            { name: "subnet", what: "CIDR" },
            { name: "gateway" },
            { name: "vip" },
            { name: "apiserverPort" },
            { name: "apiserverDnsName", note: "the VIP's name in the domain" },
            { name: "metallbPool", what: "FIRST-LAST or CIDR" },
            { name: "dnsServers", optional: true, note: "the gateway when left out" },
        ],
    },
    proxmox: {
        type: "object",
        defaults: PROXMOX_DEFAULTS,
        intro: "The Proxmox VE side:",
        fields: [
            { name: "endpoint", what: "https URL" },
            { name: "apiToken", what: "secret" },
            { name: "insecure" },
            { name: "templateVmId" },
            { name: "bridge" },
            { name: "vlanId" },
            { name: "datastore" },
            { name: "snippetsDatastore" },
            { name: "sshUser" },
            {
                name: "nodes",
                list: true,
                fields: [
                    { name: "name" },
                    { name: "address", optional: true, note: "the endpoint's host when left out" },
                    { name: "physicalMemoryGiB" },
                    { name: "committedMemoryGiB" },
                    { name: "hostReserveGiB" },
                ],
            },
        ],
        outro: "committedMemoryGiB is what the node has allocated to VMs today, existing master included.",
    },
    masters: {
        type: "array",
        items: "object",
        defaults: MASTER_DEFAULTS,
        intro: "Control-plane nodes in join order:",
        fields: [
            { name: "name" },
            { name: "ip" },
            { name: "vmId" },
            { name: "node" },
            { name: "cores", for: "existing master", default: EXISTING_MASTER_DEFAULTS.cores },
            { name: "memoryGiB", for: "existing master", default: EXISTING_MASTER_DEFAULTS.memoryGiB },
            { name: "diskGiB" },
            { name: "existing", optional: true },
            { name: "macAddress", optional: true },
        ],
        outro: "The first is the existing master (existing: true), never created or deleted by this stack. The final count must be odd and at least 3.",
    },
    workers: {
        type: "array",
        items: "object",
        default: [],
        intro: "Worker nodes:",
        fields: [{ name: "name" }, { name: "ip", optional: true }],
        outro: "Used for the kubelet cut-over to the VIP.",
    },
    ssh: {
        type: "object",
        intro: "How the program reaches the nodes:",
        fields: [{ name: "user" }, { name: "publicKey", note: "put on new masters" }, { name: "privateKey", what: "secret" }],
    },
    loadBalancer: {
        type: "object",
        defaults: LOAD_BALANCER_DEFAULTS,
        intro: "The apiserver load balancer:",
        fields: [
            { name: "kind", choices: LOAD_BALANCER_KINDS },
            { name: "host" },
            { name: "user" },
            { name: "interface", for: "pfsense", note: "the cluster VLAN's interface id such as opt1, or auto = the one whose subnet holds the VIP" },
            {
                name: "healthCheck",
                optional: true,
                fields: [{ name: "intervalMs" }, { name: "fastIntervalMs" }, { name: "downIntervalMs" }, { name: "fall" }, { name: "rise" }, { name: "timeoutMs" }],
            },
            { name: "waitUpSeconds", note: "after a pool change, wait for the servers to be UP" },
            { name: "haproxyConfig", for: "haproxy" },
            { name: "hostAlias", for: "pfsense", note: "the VIP's host alias under Firewall > Aliases > Hosts; pfSense allows only letters, digits and _ in alias names" },
        ],
    },
    dns: {
        type: "object",
        defaults: DNS_DEFAULTS,
        intro: "RFC 2136 dynamic DNS for the VIP's name:",
        fields: [
            { name: "server" },
            { name: "port" },
            { name: "zone" },
            { name: "tsigKeyName" },
            { name: "tsigAlgorithm", choices: TSIG_ALGORITHMS },
            { name: "tsigSecret", what: "secret" },
            { name: "ttl" },
            {
                name: "staleRecords",
                list: true,
                fields: [{ name: "name" }, { name: "ip" }],
                note: "A records the VIP's name replaces: removed in phase 1, put back if it is destroyed",
            },
        ],
    },
    ipam: {
        type: "object",
        default: {},
        defaults: IPAM_DEFAULTS,
        intro: "Optional, phase 1.1: the VIP and the new masters' addresses recorded in phpIPAM through its REST API:",
        fields: [
            { name: "kind", choices: IPAM_KINDS },
            { name: "url", what: "https" },
            { name: "appId", note: "Administration > API, security \"SSL with App code token\", read/write" },
            { name: "token", what: "secret", note: "the app code" },
            { name: "section", note: "the seed's \"K8s cluster\"; one of its subnets must hold the addresses" },
            { name: "insecure" },
            { name: "caFile", optional: true },
            { name: "timeoutSeconds" },
        ],
        outro: "Runs where pulumi up runs (curl, jq); destroy removes exactly the records this stack made. The default {} means no IPAM.",
    },
    kubeadm: {
        type: "object",
        default: {},
        defaults: KUBEADM_DEFAULTS,
        intro: "How the program drives kubeadm; every field has a default:",
        fields: [
            { name: "etcdSnapshotDir", note: "on the existing master" },
            { name: "etcdSnapshotMaxAgeHours" },
            { name: "takeEtcdSnapshot", note: "take one when none is recent" },
            { name: "etcdSnapshotTimeoutMinutes", note: "how long taking it may last, 1 to 240" },
            { name: "proxmoxSnapshotName" },
            { name: "keepProxmoxSnapshot", note: "destroying phase 0 keeps it" },
            { name: "backupDir", note: "the restore's source" },
            { name: "joinTokenTtl" },
            { name: "readyzTimeoutSeconds" },
            { name: "cloudInitTimeoutSeconds" },
            { name: "joinTimeoutSeconds" },
            { name: "gateTimeoutSeconds" },
            { name: "drainTimeoutSeconds" },
            { name: "minContainerdVersion" },
            { name: "verifyNamespaces", note: "pods phase 0 waits for after the apiserver restart" },
        ],
    },
    controlPlaneFlags: {
        type: "object",
        default: {},
        defaults: CONTROL_PLANE_FLAGS_DEFAULTS,
        intro: "Phase 1.5, the apiserver and etcd flags every master carries, declared in the ClusterConfiguration so kubeadm upgrade keeps them:",
        fields: [
            {
                name: "oidc",
                optional: true,
                fields: [
                    { name: "issuerUrl" },
                    { name: "clientId" },
                    { name: "usernameClaim", optional: true },
                    { name: "groupsClaim", optional: true },
                    { name: "usernamePrefix", optional: true },
                    { name: "groupsPrefix", optional: true },
                ],
            },
            {
                name: "audit",
                optional: true,
                fields: [
                    { name: "policyFile", note: "relative to the project" },
                    { name: "policyPath" },
                    { name: "logDir" },
                    { name: "maxAgeDays" },
                    { name: "maxBackups" },
                    { name: "maxSizeMiB" },
                    { name: "policyVolumeName" },
                    { name: "logVolumeName", note: "with policyVolumeName, the names of extraVolumes kubeadm-config may already hold, replaced in place" },
                ],
            },
            { name: "etcd", optional: true, fields: [{ name: "autoCompactionRetention" }, { name: "snapshotCount" }] },
            {
                name: "apiserverShutdown",
                optional: true,
                fields: [
                    { name: "delaySeconds", note: "at least the load balancer's ejection time" },
                    { name: "sendRetryAfter" },
                ],
                note: "--shutdown-delay-duration and --shutdown-send-retry-after, so a restarting apiserver leaves the pool before it stops serving",
            },
            { name: "healthTimeoutSeconds" },
        ],
    },
    cutover: {
        type: "object",
        default: {},
        defaults: CUTOVER_DEFAULTS,
        intro: "Phase 4:",
        fields: [
            { name: "nodeReadyTimeoutSeconds" },
            { name: "settleSeconds" },
            { name: "externalConsumers", list: true, fields: [{ name: "name" }, { name: "location" }, { name: "note", optional: true }] },
        ],
        outro: "The consumers are kubeconfigs and CI files outside this stack; the stack output externalConsumers lists them with the VIP URL to put in.",
    },
    etcdMaintenance: {
        type: "object",
        default: {},
        defaults: ETCD_MAINTENANCE_DEFAULTS,
        intro: "Phase 4.5, the etcd backup and defrag CronJobs:",
        fields: [
            { name: "namespace" },
            { name: "etcdImage" },
            { name: "shellImage" },
            { name: "defragImage" },
            { name: "timeZone", optional: true },
            {
                name: "backup",
                fields: [
                    { name: "schedule" },
                    { name: "retainCount" },
                    { name: "hostPath", note: "or nfs: { server, path }; no default, required from phase 4.5" },
                ],
            },
            { name: "defrag", fields: [{ name: "schedule" }, { name: "rule" }, { name: "waitBetweenSeconds" }] },
        ],
    },
    kured: {
        type: "object",
        default: {},
        defaults: KURED_DEFAULTS,
        intro: "Phase 5, the kured sentinel gate's control-plane check:",
        fields: [{ name: "namespace" }, { name: "serviceAccount", note: "the gate DaemonSet's" }, { name: "checkIntervalSeconds" }],
    },
    upgrade: {
        type: "object",
        default: {},
        defaults: UPGRADE_DEFAULTS,
        intro: "Phase 7, the multi-master upgrade chain:",
        fields: [{ name: "namespace" }, { name: "serviceAccount" }, { name: "drainTimeoutSeconds" }, { name: "readyTimeoutSeconds" }],
    },
    kubernetesAccess: {
        type: "object",
        default: {},
        intro: `How the program reaches the Kubernetes API from phase ${FIRST_KUBERNETES_API_PHASE} on:`,
        fields: [{ name: "kubeconfig", what: "secret", note: `required from phase ${FIRST_KUBERNETES_API_PHASE}` }, { name: "context", optional: true }],
    },
};

/** A default as the description shows it: text as is, lists and objects as JSON. */
function showDefault(value: unknown): string {
    return typeof value === "string" || typeof value === "number" || typeof value === "boolean" ? String(value) : JSON.stringify(value);
}

/** The default a field shows: its own, else its name's entry in its object's defaults. */
export function fieldDefault(field: FieldDoc, defaults: object | undefined): unknown {
    if (field.default !== undefined) return field.default;
    const entry = (defaults as Record<string, unknown> | undefined)?.[field.name];
    return field.fields ? undefined : entry;
}

function describeField(field: FieldDoc, defaults: object | undefined): string {
    const nested = (defaults as Record<string, unknown> | undefined)?.[field.name];
    // A list the code defaults (to none) may be left out.
    const name = `${field.name}${field.optional || (field.list && Array.isArray(nested)) ? "?" : ""}`;
    if (field.fields) {
        const inner = describeFields(field.fields, typeof nested === "object" && nested !== null ? nested : undefined);
        const value = field.list ? `[ ${inner} ]` : inner;
        return `${name}: ${value}${field.note ? ` (${field.note})` : ""}`;
    }
    const value = fieldDefault(field, defaults);
    const head = [field.what, value === undefined ? undefined : showDefault(value)].filter((x): x is string => x !== undefined).join(", ");
    // "(for: default; note)" when the field is for one case, else "(default: note)".
    const inParens = [field.for, head || undefined].filter((x): x is string => x !== undefined).join(": ");
    const parens = [inParens || undefined, field.note].filter((x): x is string => x !== undefined).join(field.for ? "; " : ": ");
    return `${name}${field.choices ? `: ${field.choices.join(" | ")}` : ""}${parens ? ` (${parens})` : ""}`;
}

function describeFields(fields: readonly FieldDoc[], defaults: object | undefined): string {
    return `{ ${fields.map((f) => describeField(f, defaults)).join(", ")} }`;
}

/** A key's description in one line: intro, fields with the code's defaults, outro. */
export function describeKey(doc: ConfigKeyDoc): string {
    const fields = doc.fields ? describeFields(doc.fields, doc.defaults) : undefined;
    const value = fields && doc.type === "array" ? `[ ${fields} ]` : fields;
    return [doc.intro, value ? `${value}.` : undefined, doc.outro].filter((x): x is string => x !== undefined).join(" ");
}

const WIDTH = 100;

/** Words to lines of at most `width` characters after `indent` (a word longer than that stands alone). */
function wrap(text: string, indent: string): string[] {
    const lines: string[] = [];
    let line = "";
    for (const word of text.split(" ")) {
        if (line && indent.length + line.length + 1 + word.length > WIDTH) {
            lines.push(indent + line);
            line = word;
        } else {
            line = line ? `${line} ${word}` : word;
        }
    }
    if (line) lines.push(indent + line);
    return lines;
}

/** A scalar or empty collection as YAML writes it inline. */
function yamlValue(value: unknown): string {
    if (typeof value === "string") return JSON.stringify(value);
    if (Array.isArray(value) && value.length === 0) return "[]";
    if (value && typeof value === "object" && Object.keys(value).length === 0) return "{}";
    throw new Error(`a key's default must be a string or an empty list or object, not ${JSON.stringify(value)}`);
}

export function renderPulumiYaml(keys: Readonly<Record<string, ConfigKeyDoc>> = CONFIG_KEYS): string {
    const out = [
        "# Generated by `npm run gen:pulumi-yaml` (tools/pulumiYaml.ts) from the code's defaults; edit",
        "# there, not here: tests/tools/pulumiYaml.test.ts fails when this file and the code differ.",
        "name: ha-control-plane",
        "description: >-",
        "  Takes a single-master kubeadm cluster on Proxmox VE to a 3-master HA control plane (stacked",
        "  etcd) behind an apiserver VIP on pfSense HAProxy, one phase at a time.",
        "runtime:",
        "  name: nodejs",
        "  options:",
        "    typescript: true",
        "    packagemanager: npm",
        "# Every key the program reads, with its type: the CLI refuses a stack value of another type,",
        "# and a stack without a key that has no default, before the program runs. The full rules",
        "# (addresses in the subnet, quorum, kubeadm minimums, ...) live in topology/config/ (one module",
        "# per key: its defaults and its reader) and run before any resource is registered.",
        "config:",
    ];
    for (const [key, doc] of Object.entries(keys)) {
        out.push(`  ${key}:`, `    type: ${doc.type}`);
        if (doc.items) out.push("    items:", `      type: ${doc.items}`);
        if (doc.default !== undefined) out.push(`    default: ${yamlValue(doc.default)}`);
        out.push("    description: >-", ...wrap(describeKey(doc), "      "));
    }
    return `${out.join("\n")}\n`;
}

function main(argv: readonly string[]): number {
    const text = renderPulumiYaml();
    if (argv.includes("--check")) {
        if (readFileSync(PULUMI_YAML, "utf8") === text) return 0;
        process.stderr.write("Pulumi.yaml differs from what the code's defaults give: run npm run gen:pulumi-yaml\n");
        return 1;
    }
    writeFileSync(PULUMI_YAML, text);
    return 0;
}

if (require.main === module) process.exit(main(process.argv.slice(2)));
