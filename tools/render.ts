/** The plan in three forms: text for people, JSON for machines, Markdown for pull requests. */
import { isNoRerunUpdate } from "../components/commandLifecycle";
import { shellWord } from "../components/remoteStep";
import type { FailureDomain } from "@ha-control-plane/topology";
import { CapacityEntry, PHASE_TYPE, PlannedResource, PlannedUnblock, PlannedViolation, PlanResult } from "./planModel";
import { RecordedValue } from "./recorder";

const SHORT_TYPES: Record<string, string> = {
    "proxmoxve:index/vmLegacy:VmLegacy": "Proxmox VM",
    "proxmoxve:index/fileLegacy:FileLegacy": "Proxmox snippet",
    "pulumi:providers:proxmoxve": "Proxmox provider",
    "pulumi:providers:kubernetes": "Kubernetes provider",
    "command:remote:Command": "remote command",
    "command:remote:CopyToRemote": "file copy",
    "command:local:Command": "local command",
    "ha-control-plane:index:Phase": "phase",
    "ha-control-plane:proxmox:MasterVm": "master VM",
    "ha-control-plane:proxmox:CapacityGate": "capacity gate",
};

/** What an operator calls a resource type: our components by their own name, the rest by kind. */
function shortType(type: string): string {
    if (SHORT_TYPES[type]) return SHORT_TYPES[type];
    const [pkg, , name] = type.split(":");
    if (pkg === "ha-control-plane" && name) return name;
    if (pkg === "random" && name) return `random ${name.replace(/^Random/, "").toLowerCase()}`;
    if (pkg === "kubernetes" && name) return `Kubernetes ${name}`;
    return type;
}

function field(inputs: Readonly<Record<string, RecordedValue>>, ...keys: string[]): RecordedValue | undefined {
    let current: RecordedValue | undefined = inputs as RecordedValue;
    for (const key of keys) {
        if (!current || typeof current !== "object" || Array.isArray(current)) return undefined;
        current = (current as Record<string, RecordedValue>)[key];
    }
    return current;
}

/** Where a resource acts, in the words an operator uses. */
export function whereItRuns(r: PlannedResource): string {
    const host = field(r.inputs, "connection", "host");
    if (typeof host === "string") return `on ${host}`;
    const node = field(r.inputs, "nodeName");
    if (typeof node === "string") return `on Proxmox node ${node}`;
    const endpoint = field(r.inputs, "endpoint");
    if (typeof endpoint === "string") return `API ${endpoint}`;
    return "";
}

function describe(r: PlannedResource, columns: number): string {
    if (r.type === "proxmoxve:index/vmLegacy:VmLegacy") {
        const ip = field(r.inputs, "initialization", "ipConfigs");
        const address = Array.isArray(ip) ? field((ip[0] ?? {}) as Record<string, RecordedValue>, "ipv4", "address") : undefined;
        const disks = field(r.inputs, "disks");
        const disk = Array.isArray(disks) ? field((disks[0] ?? {}) as Record<string, RecordedValue>, "size") : undefined;
        return (
            `${String(field(r.inputs, "name"))} VMID ${String(field(r.inputs, "vmId"))}: ` +
            `${String(field(r.inputs, "cpu", "cores"))} cores, ${Number(field(r.inputs, "memory", "dedicated")) / 1024} GiB, ` +
            `${String(disk)} GiB disk, ${String(address)}, clone of VMID ${String(field(r.inputs, "clone", "vmId"))}`
        );
    }
    if (r.type === "proxmoxve:index/fileLegacy:FileLegacy") {
        return `${String(field(r.inputs, "datastoreId"))}:snippets/${String(field(r.inputs, "sourceRaw", "fileName"))}`;
    }
    if (r.type === "command:remote:Command") {
        const create = field(r.inputs, "create");
        return [...(typeof create === "string" ? wrapCommand(create, columns) : [String(create)]), updateWords(r)].join("\n");
    }
    if (r.type === "command:local:Command") return updateWords(r);
    return "";
}

/** The widest a plan line gets; longer text wraps at a word boundary and is never cut. */
export const PLAN_COLUMNS = 100;

/** Shell words of one command line: spaces inside quotes do not split (they are one argument). */
function shellWords(line: string): string[] {
    const words: string[] = [];
    let current = "";
    let quote: string | undefined;
    for (const ch of line) {
        if (quote) {
            if (ch === quote) quote = undefined;
        } else if (ch === "'" || ch === '"') quote = ch;
        else if (ch === " ") {
            if (current) words.push(current);
            current = "";
            continue;
        }
        current += ch;
    }
    if (current) words.push(current);
    return words;
}

/** An option and its value stay on one line (`--endpoint 10.0.20.99:6443`), as an operator reads them. */
function optionUnits(words: readonly string[], columns: number): string[] {
    const units: string[] = [];
    for (let i = 0; i < words.length; i++) {
        const next = words[i + 1];
        // A value too long for any line goes alone (it stays whole), its option before it.
        if (words[i].startsWith("--") && next !== undefined && !next.startsWith("-") && words[i].length + 1 + next.length + 6 <= columns) {
            units.push(`${words[i]} ${next}`);
            i++;
        } else units.push(words[i]);
    }
    return units;
}

/**
 * A command line as an operator would paste it: wrapped between shell words with a trailing
 * ` \`, never inside a quoted argument and never cut (a word longer than the width stays whole).
 */
export function wrapCommand(command: string, columns: number): string[] {
    const out: string[] = [];
    for (const line of command.split("\n")) {
        let current = "";
        for (const word of optionUnits(shellWords(line), columns)) {
            if (current.trim() && current.length + 1 + word.length + 2 > columns) {
                out.push(`${current} \\`);
                current = `    ${word}`;
            } else current = current ? `${current} ${word}` : word;
        }
        out.push(current);
    }
    return out;
}

/** Steps in the order registered, each with its depth under the phase (0: the phase's own child). */
const REMOTE_STEP_TYPE = "ha-control-plane:remote:RemoteStep";
const LOCAL_STEP_TYPE = "ha-control-plane:local:LocalStep";

/** `on <host> (<address>)` and, for root, `as root`: a remote step's inputs, never secret. */
function stepWhere(step: PlannedResource): string {
    if (step.type === LOCAL_STEP_TYPE) return "where pulumi up runs";
    const host = field(step.inputs, "host");
    const address = field(step.inputs, "address");
    const runAs = field(step.inputs, "runAs");
    return `on ${String(host)}${typeof address === "string" && address !== host ? ` (${address})` : ""}${runAs === "root" ? " as root" : ""}`;
}

/** The step's script and its arguments, quoted as the command line quotes them. */
function stepScriptLine(step: PlannedResource): string {
    const args = field(step.inputs, "args");
    return [String(field(step.inputs, "script")), ...(Array.isArray(args) ? args.map((a) => shellWord(String(a))) : [])].join(" ");
}

/**
 * Steps in the order registered, each with its depth under the phase (0: the phase's own child).
 * A RemoteStep (LocalStep) whose one child is its command is one entry (`command` set), not two.
 */
function stepTree(resources: readonly PlannedResource[]): { resource: PlannedResource; depth: number; command?: PlannedResource }[] {
    const inPhase = new Set(resources.filter((r) => r.type !== PHASE_TYPE).map((r) => r.urn));
    const children = new Map<string | undefined, PlannedResource[]>();
    for (const r of resources) {
        if (r.type === PHASE_TYPE) continue;
        // The phase's own children, and providers (parented to the stack), are the tree's roots.
        const parent = r.parent && inPhase.has(r.parent) ? r.parent : undefined;
        children.set(parent, [...(children.get(parent) ?? []), r]);
    }
    const out: { resource: PlannedResource; depth: number; command?: PlannedResource }[] = [];
    const walk = (parent: string | undefined, depth: number): void => {
        for (const r of children.get(parent) ?? []) {
            const own = children.get(r.urn) ?? [];
            const stepCommand = r.type === REMOTE_STEP_TYPE ? "command:remote:Command" : r.type === LOCAL_STEP_TYPE ? "command:local:Command" : undefined;
            if (stepCommand && own.length === 1 && own[0].type === stepCommand) {
                out.push({ resource: r, depth, command: own[0] });
                continue;
            }
            out.push({ resource: r, depth });
            walk(r.urn, depth + 1);
        }
    };
    walk(undefined, 0);
    return out;
}

/** Prose wrapped at word boundaries under a first line's prefix, never cut. */
export function wrapProse(first: string, text: string, indent: string, columns = PLAN_COLUMNS): string[] {
    const out: string[] = [];
    let current = first;
    for (const word of text.split(" ")) {
        if (current.trim() && current.length + 1 + word.length > columns && current !== first) {
            out.push(current);
            current = `${indent}${word}`;
        } else current = current.endsWith(" ") || current === "" ? `${current}${word}` : `${current} ${word}`;
    }
    out.push(current);
    return out;
}

/** What a changed input other than triggers (a rotated SSH key, a dial setting) does to a command. */
function updateWords(r: PlannedResource): string {
    const update = field(r.inputs, "update");
    const create = field(r.inputs, "create");
    const triggers = field(r.inputs, "triggers");
    const onUpdate =
        update === undefined || update === null
            ? "re-runs create (no update declared)"
            : isNoRerunUpdate(update)
              ? "nothing re-run"
              : update === create
                ? "re-runs create"
                : `runs ${String(update).split("\n")[0].slice(0, 80)}`;
    return `on update: ${onUpdate}${Array.isArray(triggers) && triggers.length > 0 ? "; replaced when its triggers change" : ""}`;
}

/** One word for a capacity row: a node that gets no new VM is not this stack's to judge. */
function verdictWord(c: CapacityEntry): string {
    if (c.plannedGiB === 0) return c.headroomGiB < 0 ? `IN RESERVE by ${-c.headroomGiB}` : "no new VMs";
    return c.fits ? "fits" : "BLOCKED";
}

/** Nodes already inside their host reserve before this stack adds anything: said at every phase. */
function reserveWarnings(rows: readonly CapacityEntry[]): string[] {
    return rows
        .filter((c) => c.committedGiB > c.physicalGiB - c.hostReserveGiB)
        .map(
            (c) =>
                `${c.node} is already ${c.committedGiB - (c.physicalGiB - c.hostReserveGiB)} GiB into its host reserve before this stack adds a VM ` +
                `(${c.committedGiB} GiB committed against ${c.physicalGiB - c.hostReserveGiB} GiB usable): it can take no new master until memory is freed`,
        );
}

function pad(cells: string[][]): string[] {
    const widths = cells[0].map((_, i) => Math.max(...cells.map((row) => row[i].length)));
    return cells.map((row) => row.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd());
}

function capacityTable(rows: readonly CapacityEntry[]): string[] {
    return pad([
        ["node", "physical", "reserve", "committed", "planned", "usable", "headroom", "verdict"],
        ...rows.map((r) => [
            r.node,
            `${r.physicalGiB}`,
            `${r.hostReserveGiB}`,
            `${r.committedGiB}`,
            `${r.plannedGiB}`,
            `${r.physicalGiB - r.hostReserveGiB}`,
            `${r.headroomGiB}`,
            verdictWord(r),
        ]),
    ]);
}

function survivorWords(d: FailureDomain, domains: readonly FailureDomain[]): string {
    const total = domains.reduce((n, x) => n + x.members.length, 0);
    return `${d.survivorsIfLost} of ${total}`;
}

function failureDomainTable(domains: readonly FailureDomain[]): string[] {
    return pad([
        ["node", "etcd members", "left if lost", "quorum if lost"],
        ...domains.map((d) => [d.node, d.members.join(", ") || "-", survivorWords(d, domains), d.quorumKeptIfLost ? "kept" : "LOST"]),
    ]);
}

/** The unblock options grouped by node and phase, in the order the plan computed them. */
function unblockGroups(options: readonly PlannedUnblock[]): { title: string; options: PlannedUnblock[] }[] {
    const groups: { title: string; options: PlannedUnblock[] }[] = [];
    for (const o of options) {
        const title = `${o.node}, for the masters through phase ${o.throughPhase}`;
        const group = groups.find((g) => g.title === title);
        if (group) group.options.push(o);
        else groups.push({ title, options: [o] });
    }
    return groups;
}

const UNBLOCK_TITLE = "Way out: what would let each blocked node take its new masters (every figure from the capacity rule)";

/** The violations of one phase, or (phase undefined) the stack-wide ones, mandatory first. */
function verdictsOf(plan: PlanResult, phase: string | undefined): PlannedViolation[] {
    const rank = (v: PlannedViolation) => (v.enforcementLevel === "mandatory" ? 0 : 1);
    return plan.violations.filter((v) => v.phase === phase).sort((a, b) => rank(a) - rank(b));
}

function countWords(vs: readonly PlannedViolation[]): string {
    const mandatory = vs.filter((v) => v.enforcementLevel === "mandatory").length;
    const advisory = vs.length - mandatory;
    const parts = [...(mandatory ? [`${mandatory} mandatory`] : []), ...(advisory ? [`${advisory} advisory`] : [])];
    return parts.length ? parts.join(", ") : "pass";
}

export function renderText(plan: PlanResult): string {
    const out: string[] = [];
    out.push(`ha-control-plane plan: stack ${plan.stack}, target phase ${plan.targetPhase}, Kubernetes ${plan.kubernetesVersion}`);
    for (const note of plan.notes) out.push(`  note: ${note}`);
    for (const phase of plan.phases) {
        out.push("", `Phase ${phase.id}: ${phase.title}`);
        const steps = stepTree(phase.resources);
        if (steps.length === 0) out.push("  (nothing registered in this phase yet)");
        for (const { resource: r, depth, command } of steps) {
            const indent = "  ".repeat(depth + 1);
            const columns = PLAN_COLUMNS - indent.length - 4;
            if (command) {
                // A remote step and its command read as one line: where, as whom, which script.
                out.push(`${indent}+ step ${r.name} ${stepWhere(r)}`);
                out.push(...[...wrapCommand(stepScriptLine(r), columns), updateWords(command)].map((l) => `${indent}    ${l}`));
                continue;
            }
            const where = whereItRuns(r);
            out.push(`${indent}+ ${shortType(r.type)} ${r.name}${where ? ` ${where}` : ""}`);
            const what = describe(r, columns);
            if (what) out.push(...what.split("\n").map((l) => `${indent}    ${l}`));
        }
        for (const v of verdictsOf(plan, phase.id)) out.push(...wrapProse(`  ! ${v.enforcementLevel.toUpperCase()} ${v.policy}: `, v.message, "      "));
    }
    out.push(
        "",
        "Proxmox capacity at the target phase (GiB)",
        ...capacityTable(plan.capacity).map((l) => `  ${l}`),
        ...reserveWarnings(plan.capacity).flatMap((l) => wrapProse("  ! ", l, "      ")),
    );
    out.push("", "Failure domains at the target phase (each Proxmox node: what losing it leaves of etcd)", ...failureDomainTable(plan.failureDomains).map((l) => `  ${l}`));
    if (plan.outlook) {
        const { spread } = plan.outlook;
        out.push(
            "",
            `Outlook: capacity once phase ${plan.outlook.throughPhase} has run, at today's figures (GiB)`,
            ...capacityTable(plan.outlook.capacity).map((l) => `  ${l}`),
            ...plan.outlook.capacity.flatMap((c) => wrapProse(`  ${c.fits ? "ok" : "BLOCKED"}: `, c.verdict, "      ")),
            "",
            `Outlook: failure domains once phase ${plan.outlook.throughPhase} has run`,
            ...failureDomainTable(plan.outlook.failureDomains).map((l) => `  ${l}`),
            ...(spread ? wrapProse(`  ${spread.enforcementLevel.toUpperCase()} ${spread.policy} (at phase ${plan.outlook.throughPhase}): `, spread.message, "      ") : []),
        );
    }
    if (plan.unblock.length) {
        out.push("", UNBLOCK_TITLE);
        for (const group of unblockGroups(plan.unblock)) out.push(`  ${group.title}:`, ...group.options.flatMap((o) => wrapProse("    - ", o.summary, "      ")));
    }
    out.push(
        "",
        "etcd quorum, step by step",
        ...pad([
            ["after phase", "master", "members", "quorum", "tolerates"],
            ...plan.quorum.map((q) => [q.phase, q.master, `${q.members}`, `${q.quorum}`, `${q.faultTolerance} failure(s)`]),
        ]).map((l) => `  ${l}`),
    );
    out.push("", `Policy verdicts: ${plan.policyNames.length} policies, config ${plan.policyConfigSource}`);
    const stackWide = verdictsOf(plan, undefined);
    out.push(`  ${passLine(plan)}`);
    for (const phase of plan.phases) {
        const vs = verdictsOf(plan, phase.id);
        if (vs.length) out.push(`  phase ${phase.id}: ${countWords(vs)} (listed under the phase above)`);
    }
    if (stackWide.length) out.push(`  stack-wide: ${countWords(stackWide)}`);
    for (const v of stackWide) out.push(...wrapProse(`    ${v.enforcementLevel.toUpperCase()} ${v.policy}: `, v.message, "      "));
    out.push("", ...wrapProse("", resultLine(plan), "  "));
    return out.join("\n") + "\n";
}

/** Every phase (and the stack-wide checks) without a verdict, in one line. */
function passLine(plan: PlanResult): string {
    if (plan.violations.length === 0) return `all ${plan.policyNames.length} policies pass at every phase`;
    const passing = [
        ...plan.phases.filter((p) => verdictsOf(plan, p.id).length === 0).map((p) => p.id),
        ...(verdictsOf(plan, undefined).length === 0 ? ["stack-wide"] : []),
    ];
    if (passing.length === 0) return "pass: none";
    const list = passing.length === 1 ? passing[0] : `${passing.slice(0, -1).join(", ")} and ${passing.at(-1)}`;
    return `pass: ${passing[0] === "stack-wide" ? "" : "phases "}${list}`;
}

/** The verdict for the target phase, then what the outlook says about the phases still ahead. */
function resultLine(plan: PlanResult): string {
    const mandatory = plan.violations.filter((v) => v.enforcementLevel === "mandatory").length;
    const now = plan.blocked
        ? `Result: BLOCKED by ${mandatory} mandatory violation(s); pulumi up at phase ${plan.targetPhase} would be refused.`
        : `Result: OK to run phase ${plan.targetPhase} (pulumi preview, then pulumi up).`;
    const outlook = plan.outlook;
    if (!outlook || outlook.throughPhase === plan.targetPhase) return now;
    const ahead = outlook.capacity.filter((c) => !c.fits);
    if (ahead.length === 0) return `${now} Outlook: every master through phase ${outlook.throughPhase} fits.`;
    const shortfalls = ahead.map((c) => `${c.node} over by ${-c.headroomGiB} GiB`).join(", ");
    return `${now} Outlook: the masters through phase ${outlook.throughPhase} do not fit (${shortfalls}); see "Way out".`;
}

export function renderJson(plan: PlanResult): string {
    return (
        JSON.stringify(
            {
                stack: plan.stack,
                targetPhase: plan.targetPhase,
                phases: plan.phases,
                capacity: plan.capacity.map((c) => ({
                    node: c.node,
                    physicalGiB: c.physicalGiB,
                    committedGiB: c.committedGiB,
                    hostReserveGiB: c.hostReserveGiB,
                    plannedGiB: c.plannedGiB,
                    headroomGiB: c.headroomGiB,
                })),
                quorum: plan.quorum.map((q) => ({ phase: q.phase, master: q.master, members: q.members, quorum: q.quorum, faultTolerance: q.faultTolerance })),
                failureDomains: plan.failureDomains,
                violations: plan.violations,
                outlook: plan.outlook ?? null,
                unblock: plan.unblock,
                notes: plan.notes,
            },
            null,
            2,
        ) + "\n"
    );
}

/**
 * The phases and the dependencies between them, as a Mermaid flowchart (GitHub renders it in
 * pull-request comments). An edge A --> B means some resource of B waits for one of A; an edge
 * another path already implies is left out, so the graph shows the order, not every wait.
 */
export function renderMermaid(plan: PlanResult): string {
    const phaseOfUrn = new Map<string, string>();
    for (const p of plan.phases) for (const r of p.resources) phaseOfUrn.set(r.urn, p.id);
    const node = (id: string): string => `P${id.replace(".", "_")}`;
    const lines = ["flowchart LR"];
    for (const p of plan.phases) {
        const count = p.resources.filter((r) => r.type !== "ha-control-plane:index:Phase").length;
        lines.push(`    ${node(p.id)}["${p.id}: ${p.title.replace(/"/g, "'")} (${count})"]`);
    }
    const edges = new Set<string>();
    for (const p of plan.phases) {
        for (const r of p.resources) {
            for (const dep of r.dependencies) {
                const from = phaseOfUrn.get(dep);
                if (from && from !== p.id) edges.add(`${from}\u0000${p.id}`);
            }
        }
    }
    lines.push(...[...essentialEdges(edges)].map(([from, to]) => `    ${node(from)} --> ${node(to)}`).sort());
    return lines.join("\n");
}

/** The edges no longer path already implies (a transitive reduction of the phase graph). */
function essentialEdges(edges: ReadonlySet<string>): [string, string][] {
    const pairs = [...edges].map((e) => e.split("\u0000") as [string, string]);
    const next = new Map<string, string[]>();
    for (const [from, to] of pairs) next.set(from, [...(next.get(from) ?? []), to]);
    const reachableAvoiding = (from: string, to: string): boolean => {
        // Is `to` reachable from `from` through at least one other phase?
        const seen = new Set<string>();
        const stack = (next.get(from) ?? []).filter((n) => n !== to);
        while (stack.length) {
            const n = stack.pop()!;
            if (n === to) return true;
            if (seen.has(n)) continue;
            seen.add(n);
            stack.push(...(next.get(n) ?? []));
        }
        return false;
    };
    return pairs.filter(([from, to]) => !reachableAvoiding(from, to));
}

/** One phase's steps as a collapsible nested list: the component, then its steps, each with its command. */
function markdownSteps(plan: PlanResult, phase: PlanResult["phases"][number]): string[] {
    const steps = stepTree(phase.resources);
    const verdicts = verdictsOf(plan, phase.id);
    const out = [`<details><summary>Phase ${phase.id}: ${phase.title} (${steps.length} steps; ${countWords(verdicts)})</summary>`, ""];
    if (steps.length === 0) out.push("(nothing registered in this phase yet)");
    for (const { resource: r, depth, command } of steps) {
        const indent = "  ".repeat(depth);
        if (command) {
            out.push(`${indent}- step \`${r.name}\` ${stepWhere(r)}`, `${indent}  <br><code>${htmlEscape(stepScriptLine(r))}</code>`);
            continue;
        }
        const where = whereItRuns(r);
        out.push(`${indent}- ${shortType(r.type)} \`${r.name}\`${where ? ` ${where}` : ""}`);
        const create = field(r.inputs, "create");
        if (r.type === "command:remote:Command" && typeof create === "string") out.push(`${indent}  <br><code>${htmlEscape(create)}</code>`);
    }
    out.push("", "</details>");
    return out;
}

function htmlEscape(text: string): string {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/\n/g, "<br>");
}

export function renderMarkdown(plan: PlanResult): string {
    const out: string[] = [];
    out.push(`## ha-control-plane plan: stack \`${plan.stack}\`, target phase ${plan.targetPhase}`, "");
    out.push(plan.blocked ? "**BLOCKED**: a mandatory policy refuses this plan." : "**OK**: no mandatory violation.", "");
    out.push(...wrapProse("", resultLine(plan), ""), "");
    out.push("| phase | title | resources | verdicts |", "|---|---|---|---|");
    for (const p of plan.phases) {
        out.push(`| ${p.id} | ${p.title} | ${p.resources.filter((r) => r.type !== PHASE_TYPE).length} | ${countWords(verdictsOf(plan, p.id))} |`);
    }
    out.push("", "### Steps by phase");
    for (const p of plan.phases) out.push("", ...markdownSteps(plan, p));
    out.push("", "### Proxmox capacity (GiB)", "", "| node | physical | reserve | committed | planned | headroom | verdict |", "|---|---|---|---|---|---|---|");
    for (const c of plan.capacity) {
        out.push(`| ${c.node} | ${c.physicalGiB} | ${c.hostReserveGiB} | ${c.committedGiB} | ${c.plannedGiB} | ${c.headroomGiB} | ${verdictWord(c)} |`);
    }
    const domainRows = (domains: readonly FailureDomain[]) => [
        "| node | etcd members | left if lost | quorum if lost |",
        "|---|---|---|---|",
        ...domains.map((d) => `| ${d.node} | ${d.members.join(", ") || "-"} | ${survivorWords(d, domains)} | ${d.quorumKeptIfLost ? "kept" : "**lost**"} |`),
    ];
    out.push("", "### Failure domains at the target phase", "", ...domainRows(plan.failureDomains));
    if (plan.outlook) {
        const { spread } = plan.outlook;
        out.push("", `### Outlook: capacity once phase ${plan.outlook.throughPhase} has run, at today's figures`, "");
        for (const c of plan.outlook.capacity) out.push(`- ${c.fits ? "fits" : "**BLOCKED**"}: ${c.verdict}`);
        out.push("", `### Outlook: failure domains once phase ${plan.outlook.throughPhase} has run`, "", ...domainRows(plan.outlook.failureDomains));
        if (spread) out.push("", `**${spread.enforcementLevel}** \`${spread.policy}\`: ${spread.message}`);
    }
    if (plan.unblock.length) {
        out.push("", `### ${UNBLOCK_TITLE}`);
        for (const group of unblockGroups(plan.unblock)) out.push("", `${group.title}:`, "", ...group.options.map((o) => `- ${o.summary}`));
    }
    out.push("", "### etcd quorum", "", "| after phase | master | members | quorum | tolerates |", "|---|---|---|---|---|");
    for (const q of plan.quorum) out.push(`| ${q.phase} | ${q.master} | ${q.members} | ${q.quorum} | ${q.faultTolerance} |`);
    out.push("", "### Policy verdicts", "", `${plan.policyNames.length} policies, config ${plan.policyConfigSource}.`, "");
    if (plan.violations.length === 0) out.push("All policies pass.");
    const item = (v: PlannedViolation) => `- **${v.enforcementLevel}** \`${v.policy}\`: ${v.message.replace(/\|/g, "\\|")}`;
    for (const p of plan.phases) {
        const vs = verdictsOf(plan, p.id);
        if (vs.length) out.push(`#### Phase ${p.id}: ${p.title}`, "", ...vs.map(item), "");
    }
    const stackWide = verdictsOf(plan, undefined);
    if (stackWide.length) out.push("#### Stack-wide", "", ...stackWide.map(item), "");
    out.push("", "### Phases and their dependencies", "", "```mermaid", renderMermaid(plan), "```");
    return out.join("\n") + "\n";
}
