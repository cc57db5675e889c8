/**
 * The plan's failure domains and its way out of the deferral, for the lab and for the lab with a
 * second host (tests/fixtures/stacks/Pulumi.lab-two-hosts.yaml), in all three forms.
 */
import { strict as assert } from "assert";
import { readFileSync } from "fs";
import * as path from "path";
import { parse } from "yaml";
import { computePlan, PlanResult, PROJECT_DIR } from "../../tools/planModel";
import { renderJson, renderMarkdown, renderText } from "../../tools/render";

const TWO_HOSTS = path.resolve(__dirname, "../fixtures/stacks/Pulumi.lab-two-hosts.yaml");

describe("plan: failure domains and the way out of the deferral", () => {
    let lab: PlanResult;
    let twoHosts: PlanResult;
    before(async () => {
        lab = await computePlan();
        twoHosts = await computePlan({ configFile: TWO_HOSTS, targetPhase: "3" });
    });

    it("the two-host fixture is the lab's file with a second host and k8s-master-3 on it, nothing else", () => {
        const read = (file: string) => (parse(readFileSync(file, "utf8")) as { config: Record<string, any> }).config;
        const labFile = read(path.join(PROJECT_DIR, "Pulumi.lab.yaml"));
        const fixture = read(TWO_HOSTS);
        const [pve, pve2] = fixture["ha-control-plane:proxmox"].nodes;
        assert.deepEqual(pve2, { name: "pve2", address: "192.168.1.128", physicalMemoryGiB: 128, committedMemoryGiB: 0, hostReserveGiB: 8 });
        fixture["ha-control-plane:proxmox"].nodes = [pve];
        assert.equal(fixture["ha-control-plane:masters"][2].node, "pve2");
        fixture["ha-control-plane:masters"][2].node = "pve";
        assert.deepEqual(fixture, labFile);
    });

    it("lab JSON: failureDomains at phase 0, the outlook's with the one-node advisory, and unblock for pve through phase 3", () => {
        const doc = JSON.parse(renderJson(lab));
        assert.deepEqual(doc.failureDomains, [{ node: "pve", members: ["k8s-master"], survivorsIfLost: 0, quorumKeptIfLost: false }]);
        assert.deepEqual(doc.outlook.failureDomains, [{ node: "pve", members: ["k8s-master", "k8s-master-2", "k8s-master-3"], survivorsIfLost: 0, quorumKeptIfLost: false }]);
        assert.equal(doc.outlook.spread.policy, "control-plane-spread-one-node");
        assert.equal(doc.outlook.spread.enforcementLevel, "advisory");
        assert.deepEqual(doc.unblock.map((o: { node: string; throughPhase: string; kind: string }) => [o.node, o.throughPhase, o.kind]), [
            ["pve", "3", "free-memory"],
            ["pve", "3", "smaller-new-masters"],
            ["pve", "3", "right-size-existing-master"],
            ["pve", "3", "move-new-masters"],
        ]);
        const [free, smaller, resize] = doc.unblock;
        assert.equal(free.freesGiB, 35);
        assert.equal(smaller.fitsGiB, null);
        assert.equal(smaller.intoReserveGiB, 3);
        assert.equal(resize.freesGiB, 13);
        assert.equal(resize.unblocksAlone, false);
    });

    /** The text with its line wrapping undone: messages read as one line again. */
    const flat = (text: string): string => text.replace(/\s+/g, " ");

    it("lab text: the shortfall of 35 GiB, zero-size masters that do not fit (262 against 259), what right-sizing k8s-master does and does not do", () => {
        const text = renderText(lab);
        assert.match(text, /Failure domains at the target phase[^\n]*\n  node +etcd members +left if lost +quorum if lost\n  pve +k8s-master +0 of 1 +LOST\n/);
        assert.match(text, /Outlook: failure domains once phase 3 has run\n[^\n]*\n  pve +k8s-master, k8s-master-2, k8s-master-3 +0 of 3 +LOST\n  ADVISORY control-plane-spread-one-node \(at phase 3\): all 3 etcd members/);
        assert.match(text, /Way out: [^\n]*\n  pve, for the masters through phase 3:\n    - free at least 35 GiB on pve \(the shortfall\): 262 -> 227 GiB committed/);
        const words = flat(text);
        assert.match(words, / - smaller new masters cannot help: pve is already 3 GiB into its host reserve before any new VM \(262 GiB committed against 259 GiB usable\), so even zero-size masters would not fit - /);
        assert.match(words, / - right-size k8s-master .* suggests 19 GiB instead of 32 GiB, freeing 13 GiB\. Alone that does not unblock pve: 22 GiB still short\. It takes pve out of its reserve \(249 GiB committed against 259 GiB usable\): new masters of at most 5 GiB each would then fit\. - /);
        assert.match(words, / - moving new masters off pve is not possible: proxmox\.nodes lists no other node/);
        assert.match(text, /Result: OK to run phase 0/, "the advice changes no verdict");
    });

    it("the README shows the lab's failure domains and way out exactly as the plan prints them", () => {
        const readme = readFileSync(path.join(PROJECT_DIR, "README.md"), "utf8");
        const block = readme.slice(readme.indexOf("Outlook: failure domains once phase 3 has run"), readme.indexOf("```", readme.indexOf("Outlook: failure domains once phase 3 has run")));
        assert.ok(block.includes("Way out:"), "the README has the block");
        const text = renderText(lab);
        for (const line of block.split("\n").filter(Boolean)) assert.ok(text.includes(line), `README line not in the plan: ${line}`);
    });

    it("the right-sizing follows control-plane-sizing's config (the plan's policy config)", async () => {
        const plan = await computePlan({ policyConfig: { "control-plane-sizing": { observedWorkingSetGiB: 4, maxRatio: 3 } } });
        const resize = plan.unblock.find((o) => o.kind === "right-size-existing-master")!;
        assert.match(resize.summary, /\(4 GiB observed working set x 3\) suggests 12 GiB instead of 32 GiB, freeing 20 GiB/);
    });

    it("two hosts, JSON: 2+1 failure domains, pve blocked (19 GiB short) while pve2 fits, the move to pve2 with its consequence", () => {
        const doc = JSON.parse(renderJson(twoHosts));
        assert.deepEqual(doc.failureDomains, [
            { node: "pve", members: ["k8s-master", "k8s-master-2"], survivorsIfLost: 1, quorumKeptIfLost: false },
            { node: "pve2", members: ["k8s-master-3"], survivorsIfLost: 2, quorumKeptIfLost: true },
        ]);
        assert.deepEqual(doc.capacity.map((c: { node: string; headroomGiB: number }) => [c.node, c.headroomGiB]), [["pve", -19], ["pve2", 104]]);
        assert.equal(doc.outlook, null, "phase 3 is the last master phase");
        const move = doc.unblock.find((o: { kind: string }) => o.kind === "move-new-masters");
        assert.deepEqual(move.moves, [{ master: "k8s-master-2", to: "pve2" }]);
        assert.deepEqual(move.failureDomains.map((d: { node: string; quorumKeptIfLost: boolean }) => [d.node, d.quorumKeptIfLost]), [["pve", true], ["pve2", false]]);
        assert.equal(doc.unblock.find((o: { kind: string }) => o.kind === "free-memory").freesGiB, 19);
        const verdicts = doc.violations.map((v: { policy: string; enforcementLevel: string }) => `${v.policy} ${v.enforcementLevel}`);
        assert.ok(verdicts.includes("control-plane-spread-two-nodes advisory"), verdicts.join(", "));
        assert.ok(verdicts.includes("ram-headroom mandatory"));
    });

    it("two hosts, text and Markdown: the table per node, the two-node advisory under phase 3, the way out", () => {
        const text = renderText(twoHosts);
        assert.match(text, /  pve +k8s-master, k8s-master-2 +1 of 3 +LOST\n  pve2 +k8s-master-3 +2 of 3 +kept\n/);
        assert.match(flat(text), / ! ADVISORY control-plane-spread-two-nodes: etcd members on two Proxmox nodes: losing pve \(k8s-master, k8s-master-2\) leaves 1 of 3, below quorum 2/);
        assert.match(flat(text), / - move k8s-master-2 to pve2 \(masters\[1\]\.node\): pve then takes no new VM .*Failure domains then: losing pve \(k8s-master\) leaves 2 of 3, quorum kept; losing pve2 \(k8s-master-2, k8s-master-3\) leaves 1 of 3, below quorum 2/);
        const md = renderMarkdown(twoHosts);
        assert.match(md, /### Failure domains at the target phase\n\n\| node \| etcd members \| left if lost \| quorum if lost \|\n\|---\|---\|---\|---\|\n\| pve \| k8s-master, k8s-master-2 \| 1 of 3 \| \*\*lost\*\* \|\n\| pve2 \| k8s-master-3 \| 2 of 3 \| kept \|/);
        assert.match(md, /### Way out: [^\n]*\n\npve, for the masters through phase 3:\n\n- free at least 19 GiB on pve/);
    });

    it("lab Markdown carries the outlook's failure domains, the advisory and the way out", () => {
        const md = renderMarkdown(lab);
        assert.match(md, /### Outlook: failure domains once phase 3 has run\n\n\| node \|[^\n]*\n\|---[^\n]*\n\| pve \| k8s-master, k8s-master-2, k8s-master-3 \| 0 of 3 \| \*\*lost\*\* \|\n\n\*\*advisory\*\* `control-plane-spread-one-node`: all 3 etcd members/);
        assert.match(md, /- smaller new masters cannot help: pve is already 3 GiB into its host reserve/);
    });
});
