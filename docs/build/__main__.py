"""python -m docs.build --out build/site: the annotated pages, from the source (see __init__)."""
import sys

import arguments
from docs.build import BuildError, build


def main(argv=None):
    parser = arguments.Parser(prog="python -m docs.build", description=__doc__)
    parser.add_argument("--out", default="build/site", help="folder to write (emptied first)")
    args = parser.parse_args(argv)
    try:
        pages = build(args.out)
    except BuildError as error:
        print(f"docs.build: {error}", file=sys.stderr)
        return 2
    print(f"{len(pages)} pages in {args.out}/ (open {args.out}/index.html)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
