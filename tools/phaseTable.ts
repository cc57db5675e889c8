/**
 * The README's phase table, generated from components/phases/registry.ts (tests/layout.test.ts
 * fails when the README holds anything else between the markers).
 *   npx tsx tools/phaseTable.ts           print the table
 *   npx tsx tools/phaseTable.ts --write   put it into README.md between the markers
 */
import { readFileSync, writeFileSync } from "fs";
import * as path from "path";
import { PhaseEntry, PHASE_REGISTRY } from "../components/phases/registry";
import { phaseInfo } from "@ha-control-plane/topology";

export const README = path.resolve(__dirname, "..", "README.md");
export const TABLE_BEGIN = "<!-- phase-table: generated from components/phases/registry.ts by `npx tsx tools/phaseTable.ts --write`; do not edit -->";
export const TABLE_END = "<!-- phase-table: end -->";

const link = (text: string, target: string): string => `[\`${text}\`](${target})`;
const list = (items: readonly string[]): string => items.join(", ");

/** Everything but the id: phases 2 and 3 share a builder, so 3's row says so instead. */
function sameContent(a: PhaseEntry, b: PhaseEntry): boolean {
    const content = (e: PhaseEntry) => JSON.stringify([e.builder, e.components, e.scripts, e.byHand ?? [], e.tests]);
    return a.build === b.build && content(a) === content(b);
}

function row(entry: PhaseEntry, previous: PhaseEntry | undefined): string {
    const title = phaseInfo(entry.id).title;
    if (previous && sameContent(entry, previous)) {
        const same = `as phase ${previous.id}`;
        return `| ${entry.id} | ${title} | ${same} | ${same} | ${same} | ${same} |`;
    }
    const builder = link(path.basename(entry.builder), entry.builder);
    const components = list(entry.components.map((c) => link(c.replace(/^components\//, ""), c)));
    const scripts = list([
        ...entry.scripts.map((s) => link(s, `scripts/${s}`)),
        ...(entry.byHand ?? []).map((s) => `${link(s, `scripts/${s}`)} (by hand)`),
    ]);
    const tests = list(entry.tests.map((t) => link(t.replace(/^tests\//, ""), t)));
    return `| ${entry.id} | ${title} | ${builder} | ${components} | ${scripts} | ${tests} |`;
}

/** The table, markers included. */
export function phaseTable(): string {
    const lines = [TABLE_BEGIN, "| id | phase | builder | components | scripts | tests |", "|---|---|---|---|---|---|"];
    PHASE_REGISTRY.forEach((entry, i) => lines.push(row(entry, PHASE_REGISTRY[i - 1])));
    lines.push(TABLE_END);
    return lines.join("\n");
}

/** The README's table as it stands, markers included; undefined without both markers. */
export function readmeTable(text: string): string | undefined {
    const begin = text.indexOf(TABLE_BEGIN);
    const end = text.indexOf(TABLE_END);
    if (begin === -1 || end === -1 || end < begin) return undefined;
    return text.slice(begin, end + TABLE_END.length);
}

if (require.main === module) {
    const table = phaseTable();
    if (process.argv.includes("--write")) {
        const text = readFileSync(README, "utf8");
        const current = readmeTable(text);
        if (current === undefined) {
            process.stderr.write(`README.md has no phase-table markers; put these two lines where the table goes:\n${TABLE_BEGIN}\n${TABLE_END}\n`);
            process.exit(2);
        }
        writeFileSync(README, text.replace(current, () => table));
    } else {
        process.stdout.write(`${table}\n`);
    }
}
