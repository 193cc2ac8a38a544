"""The audit actions of connectors: registered with the audit log when the app is ready (connectors.apps)."""

import audit

audit.register_crud("connector", "Connector")
audit.register_crud("workflow", "Workflow")
audit.register_crud("dataset", "Dataset")
audit.register("dataset.records_appended", "Records appended to a dataset")
