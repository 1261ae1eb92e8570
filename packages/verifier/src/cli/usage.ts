/**
 * The usage text of `campus-card-verify`, printed for `--help` and after a usage error.
 *
 * @module
 */

/** The usage text: the command line, each option, material files, refusals and exit codes. */
export const USAGE = `usage: campus-card-verify <qr-text> [--root [<authority>=]<jwk-file>]... --trust-list <file>...
                          [--status-list <file>]... [--roster <file>] [--now <unix-seconds>]

  <qr-text>      the text of the QR code, in single quotes: 'CC1:…' (Base45 text contains
                 spaces, and "$" that a shell expands inside double quotes)
  --root         a root public key (the platform's or a school's): a JWK file, or the platform's
                 { "school_id", "jwk" } answer (from the mock: GET /v1/schools/{id}/root-key,
                 signed, or the root_public_jwk object it prints at start: a school's root).
                 Repeatable. One root may be given bare: it anchors whatever authority its trust
                 lists state. Bind a root to the authority whose trust lists it signs with
                 --root platform=<file> or --root <school_id>=<file> (the mock's root:
                 --root sch-demo=<file>); with several roots each must be bound (a root-key
                 answer given bare is bound to its school_id). A file whose name has "=": ./name
  --trust-list   a signed trust list, repeatable (one per authority: the platform's, a school's),
                 loaded in the order given (needed with --root: both or neither); from the mock:
                 GET /v1/schools/{id}/trust-list, signed, the school's own list (no platform list)
  --status-list  the signed status list of a school, repeatable (one per school); a code is
                 accepted only with its school's (NO_STATUS_LIST otherwise)
  --roster       the signed roster (compact codes, physical cards)
  --now          the time to verify at, unix seconds below 10^11 (default: this machine's clock)

Options take their value as the next argument or after "=" (--root=root.jwk). Material files hold
the signed bytes, raw or as hex text (whitespace and line breaks are ignored), or are a gate
client's stored copy (material/*.json). Without --root and --trust-list it prints only the dump of
the QR text, decoded, not verified. With them it prints the roots (each with its authority, null
for a bare one), each load and the decision, whose audit.trustListAuthority names the authority
whose trust list vouched for the card.

A file given to an option that does not take it (a status list as --trust-list, a QR text, the
mock's whole startup output as --root: save its root_public_jwk object alone) is named with what
it is and the option that takes it, exit 2. Roots, bindings and files are checked before the dump:
a usage error or a file that cannot be read prints no dump. A trust list refused UNKNOWN_ISSUER is
named with the authority it states and the root that signed it (a --root bound to another
authority, or the kid of a root not given). A QR text whose Base45 does not decode gets a "hint" in
the dump (a shell expands "$…" inside double quotes).

Exit codes:
  0  accepted; without trust material: the QR text decodes
  1  denied; without trust material: the QR text does not decode
  2  usage error, or trust material that cannot be read or is refused, or a file given to the
     wrong option (each named on stderr);
     material too old at --now is no refusal: the decision denies it (*_STALE), exit 1`;
