//! Server-side template injection: template syntax of the common engines (Jinja2, Twig,
//! Freemarker, ERB, Razor-like, Pug) asks for the product of two fresh numbers. The product
//! is not in the payload, so an answer showing it (absent from the baseline) rendered the
//! template; a second round with fresh numbers confirms it.

use super::rce::ArithmeticProbe;
use crate::AttackType;

/// Template payloads; `{a}` and `{b}` are the factors.
const TEMPLATES: [&str; 6] = [
    "{{{a}*{b}}}",
    "${{a}*{b}}",
    "<%= {a}*{b} %>",
    "#{{a}*{b}}",
    "@({a}*{b})",
    "{{= {a}*{b}}}",
];

/// The template injection probe.
pub fn probe() -> ArithmeticProbe {
    ArithmeticProbe::new(
        AttackType::Ssti,
        85,
        "Server-side template injection",
        "",
        &TEMPLATES,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::tests::{run, value};
    use crate::detect::Payload;
    use crate::profile::tests::answer;
    use crate::profile::Profile;

    /// Renders `{{a*b}}` like Jinja2 when `vulnerable`, else prints the value as data.
    fn greeting(vulnerable: bool) -> impl FnMut(&Payload) -> crate::Response {
        move |p| {
            let v = value(p);
            let shown = match (
                vulnerable,
                v.strip_prefix("{{").and_then(|r| r.strip_suffix("}}")),
            ) {
                (true, Some(expr)) if expr.contains('*') && !expr.starts_with('=') => {
                    let (a, b) = expr.split_once('*').unwrap();
                    (a.parse::<u64>().unwrap() * b.parse::<u64>().unwrap()).to_string()
                }
                _ => v.to_owned(),
            };
            answer(200, &format!("<p>Hello {shown}</p>"))
        }
    }

    #[test]
    fn a_rendered_expression_is_found_and_an_echoed_one_is_not() {
        let profile = Profile::learn(&[answer(200, "<p>Hello bob</p>")]).unwrap();
        let e = run(&mut probe(), &profile, greeting(true), |_| false).unwrap();
        assert_eq!(e.attack, AttackType::Ssti);
        assert!(e.payload.starts_with("{{"));
        assert!(run(&mut probe(), &profile, greeting(false), |_| false).is_none());
    }
}
