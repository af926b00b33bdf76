//! Board devices given by a stable name (`/dev/serial/by-id/...`): the node each one is
//! mapped from is fixed when the container is created, so the plan says which node that is.

use super::types::{Inputs, Plan};

pub(super) fn notes(input: &Inputs, plan: &mut Plan) {
    for d in input.devices {
        plan.note(
            &d.runner,
            format!(
                "device {} is {} now (mapped from it, seen under its own name)",
                d.stable, d.node
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::model::compose::ResolvedDevice;
    use crate::plan::fixture::converged;

    #[test]
    fn each_resolved_device_is_a_note_of_its_runner() {
        let mut w = converged(1);
        assert!(w.init().notes.is_empty());
        w.devices = vec![ResolvedDevice {
            runner: "h-runner-1".into(),
            stable: "/dev/serial/by-id/usb-FTDI_A5-if00-port0".into(),
            node: "/dev/ttyUSB1".into(),
        }];
        let plan = w.init();
        assert!(plan.steps.is_empty(), "a note changes nothing: {plan:?}");
        assert_eq!(plan.notes.len(), 1);
        assert_eq!(plan.notes[0].runner, "h-runner-1");
        assert_eq!(
            plan.notes[0].why,
            "device /dev/serial/by-id/usb-FTDI_A5-if00-port0 is /dev/ttyUSB1 now (mapped from it, seen under its own name)"
        );
    }
}
