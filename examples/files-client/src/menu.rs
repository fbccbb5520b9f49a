//! The interactive mode: the seed client's menu (same numbers), over one persistent v2
//! connection, in the locale's language: English by default, the seed's Chinese under
//! a `zh` locale. Reads choices from stdin, so it can be scripted; end of input quits
//! like `0`.

use std::io::{self, BufRead, Write};
use std::path::Path;

use switchyard_client_support::locale::{Lang, messages_lang};

use crate::client::Client;
use crate::transfer::{self, Style};
use crate::{Failure, listing};

/// The menu's words in one language.
#[derive(Debug)]
struct Words {
    menu: &'static str,
    ask_get: &'static str,
    ask_put: &'static str,
    ask_stat: &'static str,
    ask_rm: &'static str,
    got: &'static str,
    put: &'static str,
    removed: &'static str,
    error: &'static str,
    unknown: &'static str,
    bye: &'static str,
}

const ENGLISH: Words = Words {
    menu: "Choose: 0.quit  1.download  2.upload  3.list  4.info  5.delete",
    ask_get: "File to download: ",
    ask_put: "File to upload: ",
    ask_stat: "File name: ",
    ask_rm: "File to delete: ",
    got: "Downloaded: ",
    put: "Uploaded: ",
    removed: "Deleted",
    error: "Error: ",
    unknown: "unknown choice",
    bye: "Client closed",
};

/// The seed client's own words.
const CHINESE: Words = Words {
    menu: "请选择操作: 0.退出  1.下载  2.上传  3.列表  4.信息  5.删除",
    ask_get: "请输入要下载的文件名:",
    ask_put: "请输入要上传的文件名:",
    ask_stat: "请输入文件名:",
    ask_rm: "请输入要删除的文件名:",
    got: "下载完成: ",
    put: "数据上传成功! ",
    removed: "已删除",
    error: "错误: ",
    unknown: "未知选项",
    bye: "客户端关闭",
};

fn words() -> &'static Words {
    match messages_lang() {
        Lang::Chinese => &CHINESE,
        Lang::English => &ENGLISH,
    }
}

/// Run the menu until `0` or end of input. Downloads replace local files (the user
/// typed the name at the prompt just now).
pub fn run(mut c: Client, style: Style) -> Result<(), Failure> {
    let w = words();
    let stdin = io::stdin();
    let mut lines = stdin.lock().lines();
    let mut ask = |prompt: &str| -> Option<String> {
        print!("{prompt}");
        let _ = io::stdout().flush();
        lines
            .next()
            .and_then(Result::ok)
            .map(|l| l.trim().to_owned())
    };
    let get_style = Style {
        force: true,
        ..style
    };
    while let Some(choice) = ask(&format!("{}\n", w.menu)) {
        let outcome = match choice.as_str() {
            "0" => break,
            "1" => match ask(w.ask_get) {
                Some(name) => transfer::get(&mut c, &name, None, get_style)
                    .map(|p| format!("{}{}", w.got, p.display())),
                None => break,
            },
            "2" => match ask(w.ask_put) {
                Some(path) => transfer::put(&mut c, Path::new(&path), None, style)
                    .map(|n| format!("{}({n})", w.put)),
                None => break,
            },
            "3" => crate::ls(&mut c, "").map(|()| String::new()),
            "4" => match ask(w.ask_stat) {
                Some(name) => c
                    .stat(&name)
                    .map(|s| listing::stat_line(&name, &s))
                    .map_err(Failure::from),
                None => break,
            },
            "5" => match ask(w.ask_rm) {
                Some(name) => c
                    .delete(&name)
                    .map(|()| w.removed.to_owned())
                    .map_err(Failure::from),
                None => break,
            },
            "" => continue,
            other => {
                println!("{}{} {other:?}", w.error, w.unknown);
                continue;
            }
        };
        match outcome {
            Ok(msg) if msg.is_empty() => {}
            Ok(msg) => println!("{msg}"),
            // A server-side refusal leaves the connection usable; anything else ends it.
            Err(e) => {
                println!("{}{}", w.error, e.status.msg);
                if !e.usable {
                    return Err(e);
                }
            }
        }
    }
    let _ = c.quit();
    println!("{}", w.bye);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_menus_keep_the_seeds_digits() {
        for w in [&ENGLISH, &CHINESE] {
            for d in ["0.", "1.", "2.", "3.", "4.", "5."] {
                assert!(w.menu.contains(d), "{}", w.menu);
            }
        }
    }
}
