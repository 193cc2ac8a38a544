"""An import-linter contract type that no built-in one expresses: an app is used by the other apps only
through its public face, its package (``audit.record``, ``webhooks.emit``) and its models (Django's
relations and querysets cross apps by design). Everything else in an app is its own business."""

from importlinter import Contract, ContractCheck, fields, output


class PublicFacesContract(Contract):
    type_name = "public_faces"

    apps = fields.ListField(subfield=fields.StringField())
    public_modules = fields.ListField(subfield=fields.StringField())  # tails, e.g. "models"
    allowed_importers = fields.ListField(subfield=fields.StringField(), required=False)  # packages that compose every app

    def check(self, graph, verbose):
        apps = list(self.apps)
        public_tails = set(self.public_modules)
        allowed = set(self.allowed_importers or ())
        illegal = []
        for app in apps:
            for imported in sorted(graph.find_descendants(app)):
                tail = imported[len(app) + 1:]
                if tail.split(".")[0] in public_tails:
                    continue
                for importer in sorted(graph.find_modules_that_directly_import(imported)):
                    root = importer.split(".")[0]
                    if root == app or root in allowed or ".migrations." in importer:
                        continue
                    lines = [detail["line_number"] for detail in
                             graph.get_import_details(importer=importer, imported=imported)]
                    illegal.append((importer, imported, lines))
        return ContractCheck(kept=not illegal, metadata={"illegal": illegal})

    def render_broken_contract(self, check):
        for importer, imported, lines in check.metadata["illegal"]:
            output.print_error(f"- {importer} -> {imported} (l.{', '.join(map(str, lines))})", bold=False)
        output.new_line()
        output.print("Use the app's public face (its package's names) or its models instead.")
