//! Keyboard shortcuts, as commands: Ctrl/⌘+Enter starts, Space pauses or resumes, Ctrl/⌘+S
//! exports, F fits the picture, 1 shows it at 100 %, and holding C shows the photo. Nothing
//! fires while a text field has the keyboard.

use super::command::Command;
use super::dialogs::Purpose;
use egui::{Key, Modifiers};

/// Remembers whether C was held, so holding it sends one command when it starts and one when
/// it ends.
#[derive(Debug, Default)]
pub(crate) struct Shortcuts {
    peeking: bool,
}

impl Shortcuts {
    /// This frame's shortcuts.
    pub(crate) fn read(&mut self, ctx: &egui::Context) -> Vec<Command> {
        let mut sent = Vec::new();
        let peek = if ctx.egui_wants_keyboard_input() {
            false
        } else {
            let (start, pause, export, fit, actual, peek) = ctx.input_mut(|i| {
                (
                    i.consume_key(Modifiers::COMMAND, Key::Enter),
                    i.consume_key(Modifiers::NONE, Key::Space),
                    i.consume_key(Modifiers::COMMAND, Key::S),
                    i.consume_key(Modifiers::NONE, Key::F),
                    i.consume_key(Modifiers::NONE, Key::Num1),
                    i.key_down(Key::C),
                )
            });
            let keys = [
                (start, Command::Start),
                (pause, Command::TogglePause),
                (export, Command::OpenDialog(Purpose::ExportPng)),
                (fit, Command::FitPicture),
                (actual, Command::ActualSize),
            ];
            sent.extend(keys.into_iter().filter(|(k, _)| *k).map(|(_, c)| c));
            peek
        };
        if peek != self.peeking {
            self.peeking = peek;
            sent.push(Command::Peek(peek));
        }
        sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::studio::panels::testing::names;

    fn press(
        ctx: &egui::Context,
        shortcuts: &mut Shortcuts,
        events: Vec<egui::Event>,
    ) -> Vec<Command> {
        let input = egui::RawInput {
            events,
            ..Default::default()
        };
        let mut sent = Vec::new();
        let _ = ctx.run_ui(input, |ui| sent = shortcuts.read(ui.ctx()));
        sent
    }

    fn key(key: Key, pressed: bool, modifiers: Modifiers) -> egui::Event {
        egui::Event::Key {
            key,
            physical_key: None,
            pressed,
            repeat: false,
            modifiers,
        }
    }

    #[test]
    fn keys_become_commands_and_holding_c_peeks_once() {
        let ctx = egui::Context::default();
        let mut s = Shortcuts::default();
        let sent = press(
            &ctx,
            &mut s,
            vec![
                key(Key::Enter, true, Modifiers::COMMAND),
                key(Key::Space, true, Modifiers::NONE),
                key(Key::F, true, Modifiers::NONE),
            ],
        );
        assert_eq!(names(&sent), ["Start", "TogglePause", "FitPicture"]);
        let sent = press(&ctx, &mut s, vec![key(Key::C, true, Modifiers::NONE)]);
        assert!(matches!(sent.as_slice(), [Command::Peek(true)]));
        assert!(press(&ctx, &mut s, vec![]).is_empty(), "still held");
        let sent = press(&ctx, &mut s, vec![key(Key::C, false, Modifiers::NONE)]);
        assert!(matches!(sent.as_slice(), [Command::Peek(false)]));
    }
}
