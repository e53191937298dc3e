"""moto's server, one request at a time, with CloudFormation change sets
completed the way CloudFormation documents them.

1. One request at a time: moto_server serves requests on threads, and moto's
   DynamoDB backend does not lock around UpdateItem, so concurrent `ADD`
   updates can be lost in the emulator (DynamoDB itself applies them
   atomically).

2. Change sets: `stackwright deploy` drives CloudFormation only through
   change sets (CreateChangeSet, ExecuteChangeSet). moto (5.2) executes them
   only partly, unlike its CreateStack/UpdateStack:
   - a stack made by a CREATE change set cannot resolve Fn::ImportValue
     (it gets no view of the region's exports);
   - executing a change set leaves the stack's outputs, exports and
     parameters as they were (so a stack created from a change set has no
     outputs, and an unchanged redeploy looks changed);
   - a resource that fails to create makes ExecuteChangeSet answer HTTP 500,
     where CloudFormation marks the resource *_FAILED with its reason and
     rolls the stack back (ROLLBACK_COMPLETE after a first create,
     UPDATE_ROLLBACK_COMPLETE after an update).
   The patches below give change sets exactly the behaviour of moto's own
   CreateStack/UpdateStack for the first two, and CloudFormation's documented
   failure states for the third. They change nothing else.

Usage: python moto_serial.py HOST PORT
"""

import sys

from moto.cloudformation import models as cfn
from moto.cloudformation import parsing
from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

Backend = cfn.CloudFormationBackend

# The logical id of the resource moto is creating or updating, so a failure
# can be reported against it, as CloudFormation does.
_current = {"logical_id": None, "type": None}


def _tracking(original):
    def wrapper(logical_id, resource_json, *args, **kwargs):
        _current["logical_id"] = logical_id
        _current["type"] = resource_json.get("Type")
        return original(logical_id, resource_json, *args, **kwargs)

    return wrapper


parsing.parse_and_create_resource = _tracking(parsing.parse_and_create_resource)
parsing.parse_and_update_resource = _tracking(parsing.parse_and_update_resource)

_create_change_set = Backend.create_change_set
_execute_change_set = Backend.execute_change_set


def create_change_set(self, stack_name, *args, **kwargs):
    change_set_id, stack_id = _create_change_set(self, stack_name, *args, **kwargs)
    stack = self.stacks[stack_id]
    # As CreateStack does: imports resolve against the region's exports.
    stack.cross_stack_resources = self.exports
    stack.resource_map.cross_stack_resources = self.exports
    return change_set_id, stack_id


def _fail(stack, change_set, error):
    logical_id = _current["logical_id"] or stack.name
    kind = "CREATE" if change_set.change_set_type == "CREATE" else "UPDATE"
    event = cfn.Event(
        stack_id=stack.stack_id,
        stack_name=stack.name,
        logical_resource_id=logical_id,
        physical_resource_id="",
        resource_type=_current["type"] or "AWS::CloudFormation::Stack",
        resource_status=f"{kind}_FAILED",
        resource_status_reason=str(error) or type(error).__name__,
        resource_properties=None,
    )
    stack.events.append(event)
    if kind == "CREATE":
        # Rolling back a first create deletes what it had created.
        try:
            stack.resource_map.delete()
        except Exception:  # noqa: BLE001 - best effort, as in moto's own delete
            pass
        stack._add_stack_event("ROLLBACK_COMPLETE")
        stack.status = "ROLLBACK_COMPLETE"
    else:
        stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE")
        stack.status = "UPDATE_ROLLBACK_COMPLETE"
    change_set.execution_status = "EXECUTE_FAILED"


def execute_change_set(self, change_set_name, stack_name=None):
    change_set = self.describe_change_set(change_set_name)
    stack = self.stacks[change_set.stack_id]
    _current["logical_id"] = None
    try:
        _execute_change_set(self, change_set_name, stack_name)
    except Exception as error:  # noqa: BLE001 - any failure is the resource's
        _fail(stack, change_set, error)
        return
    # As UpdateStack does: outputs, exports and parameters follow the template.
    for export in stack.exports:
        self.exports.pop(export.name, None)
    stack._parse_template()
    stack.output_map = stack._create_output_map()
    stack.parameters = change_set.parameters
    stack.description = stack.template_dict.get("Description")
    self._validate_export_uniqueness(stack)
    for export in stack.exports:
        self.exports[export.name] = export


Backend.create_change_set = create_change_set
Backend.execute_change_set = execute_change_set


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, app, threaded=False)


if __name__ == "__main__":
    main()
